// PostgreSQL restarted mid-run (issue 14: "PostgreSQL restarted mid-run … nothing confirmed is lost,
// nothing done twice, recovery by itself or a clear error"). A BPP composed from the example run
// config keeps its state in a real PostgreSQL server (test/helpers/postgres.ts). It ACKs a search;
// the server is stopped: every signed request is then a coded 503 FLX_STORE_UNAVAILABLE NACK (not an
// ACK, not the web framework's 500) and the BPP stays up; the server is started again: with no
// restart of the BPP the next searches are ACKed, what was ACKed before is all there once, nothing
// refused left a row, and the audit chain verifies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyChain } from '../src/audit/chain.ts';
import { composeBpp } from '../src/compose/bpp.ts';
import { ConfigReader } from '../src/run/config-reader.ts';
import { readBpp } from '../src/run/roles.ts';
import type { Signer } from '../src/ports.ts';
import { startNetwork, type TestNetwork } from './helpers/network.ts';
import { signedSearch, type SignedAnswer } from './helpers/signed-post.ts';
import { startPostgres, type PgCluster } from './helpers/postgres.ts';
import { freePort } from './helpers/run-process.ts';
import { projectRoot } from './helpers/shared.ts';

const EXAMPLE = join(projectRoot, 'docs', 'examples', 'run', 'bpp.json');
const CB = 'http://127.0.0.1:9/cb';

let net: TestNetwork;
let cluster: PgCluster;
let dbUrl: string;
let dir: string;
let buyer: Signer;

before(
  async () => {
    dir = mkdtempSync(join(tmpdir(), 'flexlon-pg-restart-'));
    cluster = await startPostgres();
    dbUrl = await cluster.createDatabase('flexlon_restart');
    net = await startNetwork();
    buyer = net.signer('bap.pg-restart');
    await net.subscribe(buyer, 'BAP', CB);
  },
  { timeout: 120_000 },
);
after(async () => {
  await net?.stop();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A signed search for a window two hours ahead (test/helpers/signed-post.ts). */
const search = (url: string): Promise<SignedAnswer> => signedSearch(url, buyer, CB);

test(
  'PostgreSQL stopped and started again under a running BPP: coded 503s while it is down, ACKs again by itself, nothing ACKed lost or doubled',
  { timeout: 180_000 },
  async () => {
    const c = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    c.listen = { host: '127.0.0.1', port: await freePort() };
    c.registry = { url: net.registryUrl, subscribe: true };
    c.store = { postgres: { url: dbUrl, schema: 'bpp_restart' } };
    c.keys = { dir: join(dir, 'keys'), generate: true };
    c.clock = { kind: 'system' };
    c.planner = { kind: 'greedy', timeLimitSeconds: 1 };
    c.logLevel = 'silent';
    const file = join(dir, 'bpp.json');
    writeFileSync(file, JSON.stringify(c));
    const bpp = await composeBpp(readBpp(ConfigReader.load(file)));
    try {
      const before = [await search(bpp.url), await search(bpp.url)];
      assert.deepEqual(
        before.map((a) => a.status),
        [200, 200],
      );

      await cluster.stopServer();
      const during: SignedAnswer[] = [];
      try {
        for (let k = 0; k < 5; k++) during.push(await search(bpp.url));
      } finally {
        await cluster.restartServer();
      }
      for (const d of during) assert.deepEqual([d.status, d.ack, d.code], [503, 'NACK', 'FLX_STORE_UNAVAILABLE']);

      // Back by itself: a pooled connection may still be a dead one once, so allow a few tries.
      const afterRestart: SignedAnswer[] = [];
      for (let k = 0; k < 20 && afterRestart.filter((a) => a.status === 200).length < 2; k++) {
        const a = await search(bpp.url);
        afterRestart.push(a);
        if (a.status !== 200) {
          assert.deepEqual([a.status, a.code], [503, 'FLX_STORE_UNAVAILABLE'], JSON.stringify(a));
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      const acked = [...before, ...afterRestart.filter((a) => a.status === 200)];
      assert.equal(acked.length, 4, JSON.stringify(afterRestart));

      // Every ACK recorded exactly once, with the task it owes; nothing refused left a claim or a task.
      const trail = await bpp.store.auditTrail();
      const claims = trail.filter((e) => e.kind === 'beckn.in').map((e) => e.messageId);
      for (const a of acked)
        assert.equal(claims.filter((id) => id === a.messageId).length, 1, `${a.messageId} recorded once`);
      const refused = [...during, ...afterRestart.filter((a) => a.status !== 200)];
      for (const r of refused) assert.ok(!claims.includes(r.messageId), `refused ${r.messageId} left no claim`);
      const owed = await bpp.store.listOutbox();
      for (const a of acked)
        assert.equal(
          owed.filter((o) => o.messageId === a.messageId && o.action === 'task:offers').length,
          1,
          a.messageId,
        );
      for (const r of refused)
        assert.ok(!owed.some((o) => o.messageId === r.messageId), `refused ${r.messageId} owes nothing`);
      assert.equal(verifyChain(trail).ok, true, 'the audit chain verifies');
      console.log(
        JSON.stringify({
          refusedWhileDown: during.length,
          refusedAfterRestart: afterRestart.filter((a) => a.status !== 200).length,
          ackedAfterRestart: afterRestart.filter((a) => a.status === 200).length,
        }),
      );
    } finally {
      await bpp.stop();
    }
  },
);
