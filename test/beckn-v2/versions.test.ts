// Which Beckn a message goes out in (src/beckn/v2/versions.ts): the registry record's
// `beckn_version`, else the version the transaction began in for its callbacks, else core 1.1.1.
// The registry here is a Registry port answering fixed records: FlexLon's registry service does not
// keep `beckn_version` yet (src/beckn/registry/rules.ts drops fields it does not know; docs/beckn-2.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { buildContext, type Action } from '../../src/beckn/context.ts';
import { counterpartyVersions, recordV2Request, versionOfRecord } from '../../src/beckn/v2/versions.ts';
import type { Registry, Subscription } from '../../src/ports.ts';

const record = (id: string, extra: Record<string, unknown> = {}): Subscription =>
  ({
    subscriber_id: id,
    subscriber_url: `http://${id}`,
    type: 'BAP',
    domain: 'uei:compute_flexibility',
    unique_key_id: 'k1',
    signing_public_key: 'A'.repeat(43) + '=',
    valid_from: '2026-01-01T00:00:00Z',
    valid_until: '2027-01-01T00:00:00Z',
    status: 'SUBSCRIBED',
    ...extra,
  }) as Subscription;

test('versionOfRecord reads beckn_version; anything else is unsaid', () => {
  assert.equal(versionOfRecord(record('a', { beckn_version: '2.0.0' })), '2.0');
  assert.equal(versionOfRecord(record('a', { beckn_version: '2.0' })), '2.0');
  assert.equal(versionOfRecord(record('a', { beckn_version: '1.1.1' })), '1.1.1');
  assert.equal(versionOfRecord(record('a', { beckn_version: '3.0.0' })), undefined);
  assert.equal(versionOfRecord(record('a')), undefined);
});

test('per counterparty from the registry, 1.1.1 by default; a 2.0 transaction keeps its callbacks in 2.0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-v2-versions-'));
  const store = await openSqliteStore(join(dir, 'bpp.db'));
  try {
    const records = [record('deg-bap.example', { beckn_version: '2.0.0' }), record('plain-bap.example')];
    const registry: Registry = {
      lookup: async (q) => records.filter((r) => r.subscriber_id === q.subscriber_id),
      subscribe: async () => {},
    };
    const v = counterpartyVersions(registry, store);
    const msg = (action: Action, bapId: string, transactionId: string) => ({
      context: buildContext({
        action,
        bapId,
        bapUri: `http://${bapId}`,
        bppId: 'bpp',
        bppUri: 'http://bpp',
        transactionId,
        now: Date.now(),
      }),
    });
    assert.equal(await v.versionFor(msg('on_select', 'deg-bap.example', 't1')), '2.0');
    assert.equal(await v.versionFor(msg('on_select', 'plain-bap.example', 't2')), '1.1.1');
    assert.equal(await v.versionFor(msg('on_select', 'unknown.example', 't3')), '1.1.1');
    // A transaction a 2.0 request began: its callbacks (asked for or not) go out in 2.0.
    await store.transaction((tx) =>
      recordV2Request(tx, 't2', 'm1', 'plain-bap.example', 'http://plain-bap.example', 'ZGlnZXN0'),
    );
    assert.equal(await v.versionFor(msg('on_status', 'plain-bap.example', 't2')), '2.0');
    assert.deepEqual(await store.getDocument('beckn-v2.request', 't2|m1'), {
      digest: 'BLAKE-512=ZGlnZXN0',
      bapUri: 'http://plain-bap.example',
    });
    // A registry that cannot be asked: the default, and a 2.0 transaction still answers in 2.0.
    const down = counterpartyVersions(
      {
        lookup: async () => {
          throw new Error('registry down');
        },
        subscribe: async () => {},
      },
      store,
    );
    assert.equal(await down.versionFor(msg('on_select', 'deg-bap.example', 't5')), '1.1.1');
    assert.equal(await down.versionFor(msg('on_status', 'plain-bap.example', 't2')), '2.0');
    // A request FlexLon starts follows the BPP's record (bpp_id).
    const request = { context: { ...msg('select', 'x', 't4').context, bpp_id: 'deg-bap.example' } };
    assert.equal(await v.versionFor(request), '2.0');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
