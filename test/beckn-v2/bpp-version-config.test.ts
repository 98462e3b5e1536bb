// A BPP's `becknVersion` setting (issue 18, docs/beckn-2.md): a composed BPP configured with "2.0"
// registers itself, through the registry.yaml onboarding (UNDER_SUBSCRIPTION, then the on_subscribe
// challenge at its subscriber_url), as `beckn_version: "2.0.0"` at publicUrl + /v2, so nobody has
// to re-register it from outside; a bad value is refused naming the field.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import { createRegistryService, type RegistryService } from '../../src/beckn/registry/service.ts';
import { versionOfRecord } from '../../src/beckn/v2/versions.ts';
import { composeBpp } from '../../src/compose/bpp.ts';
import type { BppConfig } from '../../src/compose/config.ts';
import { makeKeys } from '../../src/compose/parts.ts';
import { ConfigReader } from '../../src/run/config-reader.ts';
import { readBpp } from '../../src/run/roles.ts';
import { listen, startNetwork, type TestNetwork } from '../helpers/network.ts';
import { freePort } from '../helpers/run-process.ts';
import { projectRoot } from '../helpers/shared.ts';

type Json = Record<string, unknown>;
const EXAMPLE = join(projectRoot, 'docs', 'examples', 'run', 'bpp.json');

let net: TestNetwork;
let service: RegistryService;
let registryUrl: string;
let dir: string;
before(async () => {
  net = await startNetwork();
  dir = mkdtempSync(join(tmpdir(), 'flexlon-bpp-version-'));
  // The registry.yaml policy (challenge onboarding, signed lookups), not the test network's open one.
  service = await createRegistryService({ store: await net.store('yaml-registry'), now: Date.now });
  registryUrl = await listen(service.app);
});
after(async () => {
  await service.app.close();
  await net.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The example BPP config with `patch` applied, read as `flexlon run bpp` does. */
const configOf = async (name: string, patch: (c: Json) => void): Promise<BppConfig> => {
  const c = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Json;
  c.id = `${name}.bpp-version.test`;
  c.listen = { host: '127.0.0.1', port: await freePort() };
  c.registry = { url: registryUrl, subscribe: true };
  c.store = { sqlite: `state/${name}.db` };
  c.keys = { dir: join(dir, 'keys'), generate: true };
  c.planner = { kind: 'greedy', timeLimitSeconds: 1 };
  c.logLevel = 'silent';
  patch(c);
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(c));
  return readBpp(ConfigReader.load(file));
};

test('becknVersion is read as "1.1.1" or "2.0", absent by default; anything else is FLX_CONFIG_INVALID naming it', async () => {
  assert.equal(readBpp(ConfigReader.load(EXAMPLE)).becknVersion, undefined, 'the example names none');
  assert.equal((await configOf('v2', (c) => (c.becknVersion = '2.0'))).becknVersion, '2.0');
  assert.equal((await configOf('v1', (c) => (c.becknVersion = '1.1.1'))).becknVersion, '1.1.1');
  for (const bad of ['2.0.0', 'v2', 2])
    await assert.rejects(
      configOf('bad', (c) => (c.becknVersion = bad)),
      (e: Error & { code?: string }) => e.code === 'FLX_CONFIG_INVALID' && /becknVersion/.test(e.message),
      String(bad),
    );
});

test('a BPP configured with becknVersion "2.0" onboards itself as beckn_version 2.0.0 at <publicUrl>/v2; one without stays 1.1.1 at its URL', async () => {
  const v2 = await composeBpp(await configOf('two', (c) => (c.becknVersion = '2.0')));
  const v1 = await composeBpp(await configOf('one', () => undefined));
  try {
    // A subscribed participant's signed lookup (registry.yaml: lookup is for subscribers).
    const asker = await makeKeys({ dir: join(dir, 'keys'), generate: false }).signer('one.bpp-version.test');
    const lookups = new HttpRegistry({ url: registryUrl, now: Date.now, cacheTtlMs: 0 }, asker);
    const [two] = await lookups.lookup({ subscriber_id: 'two.bpp-version.test' });
    assert.equal(two?.status, 'SUBSCRIBED', 'the on_subscribe challenge was answered at <publicUrl>/v2/on_subscribe');
    assert.equal(two.beckn_version, '2.0.0');
    assert.equal(two.subscriber_url, `${v2.url}/v2`);
    assert.equal(versionOfRecord(two), '2.0', "the buyers' version chooser reads it as 2.0");
    const [one] = await lookups.lookup({ subscriber_id: 'one.bpp-version.test' });
    assert.equal(one?.status, 'SUBSCRIBED');
    assert.equal(one.beckn_version, undefined);
    assert.equal(one.subscriber_url, v1.url);
  } finally {
    await v2.stop();
    await v1.stop();
  }
});
