// Disk full on the SQLite directory (issue 14: "disk full on the SQLite directory (a small loop
// file or tmpfs): nothing confirmed is lost, nothing done twice, recovery by itself or a clear
// error"). A BPP composed from the example run config keeps its store on a 6 MB tmpfs; a file then
// takes every free byte. Signed searches keep coming: the BPP must never ACK one it could not
// record (every ACK has its claim row), every refusal is a 503 FLX_STORE_UNAVAILABLE Beckn NACK
// (not the web framework's 500, nor 500 FLX_INTERNAL), what was stored before stays (the audit
// chain verifies), and once space is freed it ACKs again by itself. Real mount, real SQLite (WAL, synchronous=FULL), real HTTP and signatures.
// Mounting needs root (CAP_SYS_ADMIN): where it is not allowed the test is skipped and says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyChain } from '../src/audit/chain.ts';
import { composeBpp, type ComposedBpp } from '../src/compose/bpp.ts';
import { ConfigReader } from '../src/run/config-reader.ts';
import { readBpp } from '../src/run/roles.ts';
import type { Signer } from '../src/ports.ts';
import { startNetwork, type TestNetwork } from './helpers/network.ts';
import { signedSearch, type SignedAnswer } from './helpers/signed-post.ts';
import { freePort } from './helpers/run-process.ts';
import { projectRoot } from './helpers/shared.ts';

const EXAMPLE = join(projectRoot, 'docs', 'examples', 'run', 'bpp.json');
const CB = 'http://127.0.0.1:9/cb';

let net: TestNetwork;
let dir: string;
let mnt: string;
let mounted = false;
let buyer: Signer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flexlon-disk-full-'));
  mnt = join(dir, 'state');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt], { stdio: 'pipe' });
    mounted = true;
  } catch {
    mounted = false;
  }
  net = await startNetwork();
  buyer = net.signer('bap.disk-full');
  await net.subscribe(buyer, 'BAP', CB);
});
after(async () => {
  await net.stop();
  if (mounted) execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
  rmSync(dir, { recursive: true, force: true });
});

const startBpp = async (): Promise<ComposedBpp> => {
  const c = JSON.parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
  c.listen = { host: '127.0.0.1', port: await freePort() };
  c.registry = { url: net.registryUrl, subscribe: true };
  c.store = { sqlite: join(mnt, 'bpp.db') };
  c.keys = { dir: join(dir, 'keys'), generate: true };
  c.clock = { kind: 'system' };
  c.planner = { kind: 'greedy', timeLimitSeconds: 1 };
  c.logLevel = 'silent';
  const file = join(dir, 'bpp.json');
  writeFileSync(file, JSON.stringify(c));
  return composeBpp(readBpp(ConfigReader.load(file)));
};

/** A signed search for a window two hours ahead (test/helpers/signed-post.ts). */
const search = (url: string): Promise<SignedAnswer> => signedSearch(url, buyer, CB);

/** Writes until the filesystem refuses (ENOSPC); returns the bytes written. */
const fill = (file: string): number => {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
  return written;
};

test(
  'SQLite directory full: no ACK for what cannot be recorded, every refusal a coded NACK, stored data intact, ACKs again once space is freed',
  { timeout: 120_000 },
  async (t) => {
    if (!mounted) {
      t.skip('mounting a tmpfs needs root (CAP_SYS_ADMIN) here; see docs/reliability.md');
      return;
    }
    const bpp = await startBpp();
    try {
      const first = await search(bpp.url);
      assert.equal(first.status, 200, JSON.stringify(first));
      const filled = fill(join(mnt, 'filler'));
      assert.ok(filled > 0, 'the filler took the free space');

      // Keep searching on the full disk. SQLite may still write into WAL pages it already holds,
      // so the first few can be ACKed; every ACK must then be recorded.
      const during: Awaited<ReturnType<typeof search>>[] = [];
      for (let k = 0; k < 60 && !during.some((d) => d.status !== 200); k++) during.push(await search(bpp.url));
      for (let k = 0; k < 5; k++) during.push(await search(bpp.url));
      const refused = during.filter((d) => d.status !== 200);
      assert.ok(refused.length > 0, `the full disk refused something: ${JSON.stringify(during.slice(-3))}`);
      // 503 FLX_STORE_UNAVAILABLE, which a buyer retries: SQLITE_FULL is the store being unavailable,
      // not an internal fault (it was 500 FLX_INTERNAL before src/adapters/store-sqlite/conn.ts mapped it).
      for (const r of refused) {
        assert.equal(r.ack, 'NACK', JSON.stringify(r));
        assert.equal(r.status, 503, JSON.stringify(r));
        assert.equal(r.code, 'FLX_STORE_UNAVAILABLE', JSON.stringify(r));
      }
      const health = await fetch(`${bpp.url}/health`);
      assert.equal(health.status, 200, 'the BPP still answers /health');

      // Freed: the next search is ACKed with no restart.
      unlinkSync(join(mnt, 'filler'));
      const after = await search(bpp.url);
      assert.equal(after.status, 200, JSON.stringify(after));

      // Every ACK has its claim and audit row; no refused search left one; the chain verifies.
      const trail = await bpp.store.auditTrail();
      const accepted = new Set(
        trail.filter((e) => e.kind === 'beckn.in' && e.messageId !== undefined).map((e) => e.messageId),
      );
      for (const a of [first, ...during.filter((d) => d.status === 200), after])
        assert.ok(accepted.has(a.messageId), `ACKed ${a.messageId} is recorded`);
      for (const r of refused) assert.ok(!accepted.has(r.messageId), `refused ${r.messageId} left no claim`);
      const owed = await bpp.store.listOutbox();
      for (const r of refused)
        assert.ok(!owed.some((o) => o.messageId === r.messageId), `refused ${r.messageId} owes nothing`);
      assert.equal(verifyChain(trail).ok, true, 'the audit chain verifies');
      console.log(
        JSON.stringify({
          filledBytes: filled,
          ackedWhileFull: during.length - refused.length,
          refused: refused.length,
          codes: [...new Set(refused.map((r) => `${r.status} ${r.code ?? ''}`))],
        }),
      );
    } finally {
      await bpp.stop();
    }
  },
);
