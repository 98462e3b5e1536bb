// The dashboard's GPU-hour ledger (src/web/gpu-ledger.ts) and audit summary (src/web/audit-index.ts)
// without a browser: what ran between two reports of a site, per slot, and the SLO outcomes; the
// audit log read again only when a plan or signed head is new, and then only the rows after the last
// one seen (on a real SQLite store signing heads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import type { AuditRecord } from '../../src/audit/chain.ts';
import type { ComputeJob, FlexibilityReport } from '../../src/domain/compute.ts';
import { epochMs, type EpochMs } from '../../src/domain/time.ts';
import { kw, kwh } from '../../src/domain/units.ts';
import { generateKeyPair } from '../../src/beckn/keys.ts';
import { ed25519Signer } from '../../src/beckn/signing.ts';
import type { AuditFilter, Signer, Store } from '../../src/ports.ts';
import type { PlanKeys } from '../../src/store/records.ts';
import { AuditIndex } from '../../src/web/audit-index.ts';
import { GpuLedger } from '../../src/web/gpu-ledger.ts';

const H = 3_600_000;
const SLOT = H / 2;
const T0 = Date.UTC(2023, 0, 24);

/** A 4-GPU job of 2 kW, `hoursLeft` of its 3 h still to run, due at `due` hours. */
const job = (id: string, state: ComputeJob['state'], hoursLeft: number, due = 24, extra: Partial<ComputeJob> = {}) =>
  ({
    id,
    name: id,
    site: 'lon',
    slo: 'deferrable',
    gpus: 4,
    powerKw: kw(2),
    energyKwh: kwh(6),
    remainingKwh: kwh(2 * hoursLeft),
    submittedAt: epochMs(T0),
    releaseAt: epochMs(T0),
    deadlineAt: epochMs(T0 + due * H),
    preemptible: false,
    allowedSites: ['lon'],
    work: 12,
    workUnit: 'gpu-hours',
    state,
    ...extra,
  }) as ComputeJob;

const report = (site: string, atH: number, jobs: ComputeJob[]) =>
  ({ site, at: epochMs(T0 + atH * H) as EpochMs, jobs }) as unknown as FlexibilityReport;

/** A ledger over the sites, fed the reports given in turn. */
const follow = async (sites: string[], steps: FlexibilityReport[][]) => {
  const latest = new Map<string, FlexibilityReport>();
  const ledger = new GpuLedger(sites, async (s) => latest.get(s), SLOT);
  for (const step of steps) {
    for (const r of step) latest.set(r.site, r);
    await ledger.sample();
  }
  return ledger;
};

test('GPU-hours between reports: running throughout, started, finished, waiting then gone; per slot', async () => {
  const l = await follow(
    ['lon'],
    [
      [
        report('lon', 0, [
          job('a', 'running', 3),
          job('b', 'running', 0.25),
          job('c', 'queued', 3),
          job('d', 'queued', 0.5),
        ]),
      ],
      // 1 h later: a still running; b finished after ¼ h; c started at 0:30; d ran and finished in between.
      [report('lon', 1, [job('a', 'running', 2), job('c', 'running', 2.5, 24, { startedAt: epochMs(T0 + SLOT) })])],
    ],
  );
  // a: 4 GPUs × 1 h; b: 4 × ¼ h; c: 4 × ½ h; d: 4 × ½ h (its run placed at the end of the interval).
  assert.equal(l.gpuHoursIn(T0), 4 * 0.5 + 4 * 0.25);
  assert.equal(l.gpuHoursIn(T0 + SLOT), 4 * 0.5 + 4 * 0.5 + 4 * 0.5);
  assert.deepEqual(l.coverage(), { from: T0, to: T0 + H });
  const done = l.outcomes(T0, T0 + 2 * H).map((o) => [o.jobId, o.at - T0, o.met]);
  assert.deepEqual(done, [
    ['b', 0.25 * H, true],
    ['d', H, true],
  ]);
});

test('SLO: a job finished after its deadline, or still unfinished past it, missed; a job moved to another site did not finish', async () => {
  const l = await follow(
    ['lon', 'man'],
    [
      [
        report('lon', 0, [job('late', 'running', 2, 1), job('moved', 'queued', 3)]),
        report('man', 0, [job('slow', 'queued', 3, 0.5)]),
      ],
      [report('lon', 2, []), report('man', 2, [job('slow', 'queued', 3, 0.5), job('moved', 'queued', 3)])],
    ],
  );
  const by = new Map(l.outcomes(T0, T0 + 3 * H).map((o) => [o.jobId, o]));
  assert.equal(by.get('late')?.met, false, 'finished at 2:00, due at 1:00');
  assert.equal(by.get('late')?.at, T0 + 2 * H);
  assert.equal(by.get('slow')?.met, false, 'still waiting past its deadline');
  assert.equal(by.has('moved'), false, 'reported at man now: moved, not finished');
  // Only 'late' ran: 4 GPUs × 2 h.
  assert.equal(l.gpuHoursIn(T0) + l.gpuHoursIn(T0 + SLOT) + l.gpuHoursIn(T0 + H) + l.gpuHoursIn(T0 + 3 * SLOT), 8);
});

test('the audit summary reads the log again only when a plan or signed head is new', async () => {
  let plan = 'p1';
  let head = 3;
  let reads = 0;
  const rows = [{ seq: 1 }] as unknown as AuditRecord[];
  const store = {
    latestPlan: async () => ({ id: plan }),
    latestHead: async () => ({ seq: head }),
    auditTrail: async () => {
      reads++;
      return rows;
    },
  } as unknown as Store;
  const index = new AuditIndex(store, () => undefined);
  await Promise.all([index.current(), index.current(), index.current()]);
  assert.equal(reads, 1, 'three requests at once: one read');
  await index.current();
  assert.equal(reads, 1);
  plan = 'p2';
  await index.current();
  assert.equal(reads, 2, 'a new plan');
  head = 4;
  await index.current();
  await index.current();
  assert.equal(reads, 3, 'a new signed head');
});

test('after the first read, a new plan reads only the rows after the last one seen, verified onward with its heads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-audit-index-'));
  const store = await openSqliteStore(join(dir, 'flex.db'));
  try {
    // A store that signs heads (after every settlement, src/store/sql/ops.ts appendHeaded), as a role's does.
    const keys = generateKeyPair();
    const signer: Signer = {
      subscriberId: 'bpp.example',
      uniqueKeyId: 'k1',
      publicKeyBase64: keys.publicKeyBase64,
      sign: ed25519Signer(keys.privateKey),
    };
    store.signHeadsWith?.(signer, () => T0);
    const headKeys = (actor: string, keyId: string) =>
      actor === signer.subscriberId && keyId === signer.uniqueKeyId ? signer.publicKeyBase64 : undefined;
    const reads: { afterSeq: number | undefined; seqs: number[] }[] = [];
    let changeOnward = false;
    const following: Pick<Store, 'auditTrail' | 'latestPlan' | 'latestHead'> = {
      latestPlan: <P>() => store.latestPlan<P & PlanKeys>(),
      latestHead: () => store.latestHead(),
      auditTrail: async (filter?: AuditFilter) => {
        let rows = await store.auditTrail(filter);
        // A row that reads back other than it was written: its hash no longer matches.
        if (changeOnward && filter?.afterSeq !== undefined)
          rows = rows.map((r, i) => (i === 0 ? { ...r, payload: { changed: true } } : r));
        reads.push({ afterSeq: filter?.afterSeq, seqs: rows.map((r) => r.seq) });
        return rows;
      },
    };
    const beckn = (tx: string, action: string) =>
      store.appendAudit({ kind: 'beckn.in', at: T0, actor: 'bpp.example', transactionId: tx, payload: { action } });
    const plan = (id: string) =>
      store.transaction(async (tx) => {
        await tx.savePlan({ id, createdAt: T0 + reads.length, horizonStart: epochMs(T0), status: 'optimal' });
        await tx.appendAudit({ kind: 'plan', at: T0, actor: 'bpp.example', payload: { planId: id } });
      });
    await beckn('tx-1', 'search');
    await beckn('tx-1', 'confirm');
    await store.appendAudit({ kind: 'settlement', at: T0, actor: 'bpp.example', payload: { periods: [] } });
    await plan('p1');
    const index = new AuditIndex(following, headKeys);
    const first = await index.current();
    assert.deepEqual(reads, [{ afterSeq: undefined, seqs: [1, 2, 3, 4, 5] }], 'the first read is the whole log');
    assert.deepEqual(first.chain, { ok: true, records: 5 });
    assert.equal(first.heads?.ok && first.heads.heads, 1, "the settlement's head verified");

    await beckn('tx-1', 'status');
    await beckn('tx-2', 'search');
    await store.appendAudit({ kind: 'settlement', at: T0, actor: 'bpp.example', payload: { periods: [] } });
    await plan('p2');
    const next = await index.current();
    assert.deepEqual(reads[1], { afterSeq: 5, seqs: [6, 7, 8, 9, 10] }, 'a new plan: only the rows after 5');
    assert.equal(index.fullReads, 1);
    assert.deepEqual(next.chain, { ok: true, records: 10 });
    // The same summary as a whole read of the log gives.
    const whole = await new AuditIndex(store, headKeys).current();
    for (const k of ['records', 'chain', 'heads', 'transactions', 'settlements'] as const)
      assert.deepEqual(next[k], whole[k], k);
    assert.deepEqual([...next.plans.keys()], ['p1', 'p2']);
    assert.deepEqual(
      next.transactions.map((t) => [t.transactionId, t.messages, t.lastAction]),
      [
        ['tx-2', 1, 'search'],
        ['tx-1', 3, 'status'],
      ],
    );
    assert.equal(first.transactions.length, 1, 'a snapshot already handed out is left as it was');

    // New rows that do not link to the last one verified: the whole log is read and verified again.
    changeOnward = true;
    await beckn('tx-2', 'select');
    await plan('p3');
    const after = await index.current();
    assert.deepEqual(reads.slice(2), [
      { afterSeq: 10, seqs: [11, 12] },
      { afterSeq: undefined, seqs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] },
    ]);
    assert.equal(index.fullReads, 2);
    assert.deepEqual(after.chain, { ok: true, records: 12 }, 'the rows as stored verify');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
