// Crash safety of the Flexibility Orchestrator (issue 8): the BPP runs as its own process and is
// killed with SIGKILL during an order's lifecycle (search → select → init → confirm → status, and
// cancel for every fourth order), then started again, run after run on the same store. On SQLite one
// kill lands just after the BPP ACKs each of the six requests (its callback owed, perhaps not yet
// sent: the outbox must deliver it after the restart), and a few more at seeded random points, which
// also land while a request is being handled, before its ACK (FLEXLON_CRASH_SEED and
// FLEXLON_CRASH_RUNS, the number of random kills, change them). The BAP keeps re-sending a request
// whose ACK it did not get, with the same message_id, as Beckn clients do. Afterwards:
//   * every order the BAP saw confirmed is stored as confirmed (or cancelled, if it cancelled it),
//     with its commitment;
//   * the plan made on every restart, and the last plan, bind every live commitment and honour it;
//   * every callback owed was delivered exactly once as the BAP counts it (its durable claim by
//     message_id); repeats on the wire are allowed and counted;
//   * nothing is left owed in the outbox, and both audit chains verify.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyChain } from '../../src/audit/chain.ts';
import { openPostgresStore } from '../../src/adapters/store-postgres/index.ts';
import { openSqliteStore } from '../../src/adapters/store-sqlite/index.ts';
import { brokenCommitments, type PlanRecord } from '../../src/agents/flex/plan-record.ts';
import type { Commitment } from '../../src/domain/commitments.ts';
import { buildContext, type BecknMessage, type RequestAction } from '../../src/beckn/context.ts';
import { catalogToOffers, needToIntent } from '../../src/beckn/flex-codec.ts';
import type { WireOrder } from '../../src/beckn/wire.ts';
import { epochMs } from '../../src/domain/time.ts';
import { gbpPerMwh, kw } from '../../src/domain/units.ts';
import { asFlexError } from '../../src/errors.ts';
import type { Store } from '../../src/ports.ts';
import {
  IDS,
  MARKET_START,
  startCrashMarket,
  type BppChild,
  type BppStoreConfig,
  type CrashMarket,
} from '../helpers/crash-market.ts';
import { startPostgres } from '../helpers/postgres.ts';

const SEED = Number(process.env.FLEXLON_CRASH_SEED ?? 20261124);
const RANDOM_RUNS = Number(process.env.FLEXLON_CRASH_RUNS ?? 2);
const SLOT = 30 * 60_000;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sent {
  readonly messageId: string;
  readonly action: RequestAction;
  readonly run: number;
}
interface Outcome {
  readonly run: number;
  readonly window: string;
  readonly orderId?: string;
  readonly cancelled: boolean;
}

/** Told when the BPP has ACKed a request of the run (a targeted kill waits for its action). */
type OnAck = (action: RequestAction) => void;

/** Sends a request until the BPP ACKs it (the same message_id and bytes every time), then waits for its callback. */
const request = async (
  m: CrashMarket,
  sent: Sent[],
  run: number,
  transactionId: string,
  action: RequestAction,
  message: unknown,
  onAck: OnAck,
): Promise<BecknMessage> => {
  const context = buildContext({
    action,
    bapId: IDS.bap,
    bapUri: m.bapUrl,
    bppId: IDS.bpp,
    bppUri: m.bppUrl,
    transactionId,
    now: Date.now(),
    ttlSeconds: 120,
  });
  const msg = { context, message };
  sent.push({ messageId: context.message_id, action, run });
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      await m.client.send(m.bppUrl, msg);
      break;
    } catch (e) {
      // The BPP is down (killed, restarting): send the same message again, as a Beckn client would.
      if (asFlexError(e).code !== 'FLX_PEER_UNREACHABLE' || Date.now() > until) throw e;
      await sleep(100);
    }
  }
  onAck(action);
  return m.callbacks.wait(context.message_id, 60_000);
};

const orderOf = (m: BecknMessage): WireOrder => {
  const o = (m.message as { order?: WireOrder } | undefined)?.order;
  assert.ok(o, `${m.context.action} carries an order`);
  return o;
};

/** One order's lifecycle; the window moves from run to run so the site is not sold out. */
const lifecycle = async (m: CrashMarket, sent: Sent[], run: number, onAck: OnAck = () => {}): Promise<Outcome> => {
  const tx = crypto.randomUUID();
  const start = epochMs(MARKET_START + (2 + (run % 5)) * SLOT);
  const need = {
    kind: 'price-peak',
    windowStart: start,
    windowEnd: epochMs(start + SLOT),
    wantedKw: kw(10),
    maxPriceGbpPerMwh: gbpPerMwh(5000),
  } as const;
  const found = await request(m, sent, run, tx, 'search', { intent: needToIntent(need) }, onAck);
  const offer = catalogToOffers((found.message as { catalog?: never } | undefined)?.catalog)
    .map((x) => x.offer)
    .find((o) => o.site === 'lon');
  const window = new Date(start).toISOString().slice(11, 16);
  if (!offer) return { run, window, cancelled: false };
  const items = [
    {
      id: offer.id,
      quantity: {
        selected: { measure: { type: 'CONSTANT', value: String(Math.min(10, offer.reductionKw)), unit: 'kW' } },
      },
    },
  ];
  const order = { provider: { id: IDS.bpp }, items };
  await request(m, sent, run, tx, 'select', { order }, onAck);
  await request(m, sent, run, tx, 'init', { order: { ...order, billing: { name: IDS.bap } } }, onAck);
  const confirmed = orderOf(
    await request(m, sent, run, tx, 'confirm', { order: { ...order, billing: { name: IDS.bap } } }, onAck),
  );
  assert.ok(confirmed.id, 'on_confirm names the order');
  await request(m, sent, run, tx, 'status', { order_id: confirmed.id }, onAck);
  const cancel = run % 4 === 3;
  if (cancel)
    assert.equal(
      orderOf(
        await request(
          m,
          sent,
          run,
          tx,
          'cancel',
          { order_id: confirmed.id, cancellation_reason_id: 'need-gone' },
          onAck,
        ),
      ).status,
      'CANCELLED',
    );
  return { run, window, orderId: confirmed.id, cancelled: cancel };
};

const bppStore = (config: BppStoreConfig): Promise<Store> =>
  'sqlite' in config
    ? openSqliteStore(config.sqlite)
    : openPostgresStore({ url: config.postgres.url, schema: config.postgres.schema });

interface Restart {
  readonly killedAt: number;
  readonly child: BppChild;
  readonly liveBefore: string[];
  readonly during: string;
  readonly point: KillPoint;
}

/** Where a run's kill lands: just after the BPP ACKs a request of the run, or at a seeded random moment of it. */
type KillPoint = { readonly afterAck: RequestAction } | 'random';

/**
 * One kill just after each request's ACK, then the random ones. Run 3 is the first that cancels its
 * order (every fourth run does), so it is the one killed after cancel's ACK.
 */
const SQLITE_KILLS: readonly KillPoint[] = [
  { afterAck: 'search' },
  { afterAck: 'select' },
  { afterAck: 'cancel' },
  { afterAck: 'init' },
  { afterAck: 'confirm' },
  { afterAck: 'status' },
  ...Array.from({ length: RANDOM_RUNS }, () => 'random' as const),
];

const crashRuns = async (
  t: { diagnostic(s: string): void },
  storeOf: (dir: string) => BppStoreConfig,
  kills: readonly KillPoint[],
  seed: number,
): Promise<void> => {
  const runs = kills.length;
  const random = prng(seed);
  const m = await startCrashMarket(storeOf);
  const config = storeOf(m.dir);
  let bpp = await m.startBpp();
  const sent: Sent[] = [];
  const outcomes: Outcome[] = [];
  const restarts: Restart[] = [];
  try {
    await m.agent.tick(m.market.now());
    // A warm-up lifecycle without a kill measures how long one takes; kills land anywhere in it.
    const t0 = Date.now();
    outcomes.push(await lifecycle(m, sent, 0));
    const span = Math.max(300, Date.now() - t0);
    for (const [i, point] of kills.entries()) {
      const run = i + 1;
      let reached = () => {};
      const acked = new Promise<void>((resolve) => (reached = resolve));
      const onAck: OnAck = (action) => {
        if (point !== 'random' && action === point.afterAck) reached();
      };
      const lived = lifecycle(m, sent, run, onAck);
      const killer = (async () => {
        // A targeted run that ends without its request (no offer to buy) is killed after it; the
        // check below then names the phase that was missed.
        if (point === 'random') await sleep(Math.floor(random() * span * 0.8));
        else
          await Promise.race([
            acked,
            lived.then(
              () => undefined,
              () => undefined,
            ),
          ]);
        const killedAt = Date.now();
        const liveBefore = outcomes.filter((o) => o.orderId && !o.cancelled).map((o) => o.orderId as string);
        const last = sent[sent.length - 1];
        const during =
          last && last.run === run
            ? `${last.action}${m.callbacks.got.has(last.messageId) ? ' (answered)' : ''}`
            : 'before search';
        bpp.child.kill('SIGKILL');
        await bpp.exited;
        bpp = await m.startBpp();
        restarts.push({ killedAt, child: bpp, liveBefore, during, point });
      })();
      outcomes.push(await lived);
      await killer;
    }
    // Everything owed is delivered: wait until every request has its callback at the BAP.
    for (const s of sent) await m.callbacks.wait(s.messageId, 60_000);
    bpp.child.kill('SIGTERM');
    assert.deepEqual(await bpp.exited, { code: 0, signal: null }, 'SIGTERM stops the BPP cleanly');
  } catch (e) {
    // The market's servers would keep this test file alive after a failure.
    await m.stop();
    throw e;
  } finally {
    if (bpp.child.exitCode === null && bpp.child.signalCode === null) bpp.child.kill('SIGKILL');
  }
  const store = await bppStore(config).catch(async (e: unknown) => {
    await m.stop();
    throw e;
  });
  try {
    // Each targeted kill landed where it was aimed: after its request was sent and ACKed.
    for (const r of restarts)
      if (r.point !== 'random')
        assert.match(r.during, new RegExp(`^${r.point.afterAck}\\b`), `the kill aimed after ${r.point.afterAck}'s ACK`);
    await checkOrders(store, outcomes);
    await checkPlans(store, restarts);
    await checkDelivery(m, store, sent);
    const bpTrail = await store.auditTrail();
    assert.deepEqual(verifyChain(bpTrail), { ok: true, records: bpTrail.length }, 'the BPP audit chain is intact');
    const bapTrail = await m.bapStore.auditTrail();
    assert.deepEqual(verifyChain(bapTrail), { ok: true, records: bapTrail.length }, 'the BAP audit chain is intact');
    const repeats = bapTrail.filter(
      (r) => r.kind === 'beckn.in' && (r.payload as { outcome?: string }).outcome !== 'ACK',
    ).length;
    const downMs = restarts.map((r) => r.child.readyAt - r.killedAt).sort((a, b) => a - b);
    const phases = new Map<string, number>();
    for (const r of restarts) phases.set(r.during, (phases.get(r.during) ?? 0) + 1);
    t.diagnostic(`killed during: ${[...phases].map(([p, n]) => `${p} ×${n}`).join(', ')}`);
    t.diagnostic(
      `${runs} kills (seed ${seed}), ${outcomes.filter((o) => o.orderId).length} orders confirmed (no offer for the windows at ${
        outcomes
          .filter((o) => !o.orderId)
          .map((o) => o.window)
          .join(', ') || 'none'
      }), ${sent.length} requests, ${repeats} callback(s) repeated on the wire and deduped by the BAP; kill → ready again: median ${downMs[downMs.length >> 1]} ms, max ${downMs[downMs.length - 1]} ms`,
    );
  } finally {
    await store.close();
    await m.stop();
  }
};

/** Every order the BAP saw confirmed is there, in the state the BAP last saw, with its commitment. */
const checkOrders = async (store: Store, outcomes: readonly Outcome[]): Promise<void> => {
  const confirmed = outcomes.filter((o) => o.orderId);
  // A window with nothing to shift gets an empty catalog (no offer): that is the market, not a crash.
  assert.ok(
    confirmed.length >= outcomes.length / 2,
    `most runs bought their reduction (${confirmed.length} of ${outcomes.length}; no offer for ${outcomes
      .filter((o) => !o.orderId)
      .map((o) => o.window)
      .join(', ')})`,
  );
  for (const o of confirmed) {
    const order = await store.getOrder(o.orderId as string);
    assert.equal(order?.state, o.cancelled ? 'cancelled' : 'confirmed', `order of run ${o.run}`);
    const cs = await store.listCommitments<Commitment>({ orderId: o.orderId as string });
    assert.equal(cs.length, 1, `order of run ${o.run} has its commitment`);
    assert.equal(cs[0]?.reductionKw, order?.reductionKw);
  }
};

/** The plan made at each restart binds every order live before the kill, and every plan honours its commitments. */
const checkPlans = async (store: Store, restarts: readonly Restart[]): Promise<void> => {
  const plans = (await store.auditTrail())
    .filter((r) => r.kind === 'plan')
    .map((r) => (r.payload as { planId: string }).planId);
  const records = (await Promise.all(plans.map((id) => store.getPlan<PlanRecord>(id)))).filter(
    (p): p is PlanRecord => p !== undefined,
  );
  assert.equal(records.length, plans.length, 'every audited plan is stored');
  for (const p of records)
    assert.deepEqual(brokenCommitments(p, 1e-3), [], `plan ${p.id} (${p.reason}) honours its commitments`);
  for (const r of restarts) {
    const first = records.filter((p) => p.createdAt >= r.child.startedAt).sort((a, b) => a.createdAt - b.createdAt)[0];
    assert.ok(first && first.reason.startsWith('restart'), 'the first plan after a restart is the recovery plan');
    const live = (
      await store.listCommitments({ orderStates: ['confirmed', 'active'], endsAfter: epochMs(first.horizonStart) })
    ).map((c) => c.orderId);
    for (const id of r.liveBefore.filter((x) => live.includes(x)))
      assert.ok(first.orders.includes(id), `the recovery plan binds order ${id}, confirmed before the kill`);
  }
};

/** Each request was claimed once by the BPP, and its callback accepted exactly once by the BAP; nothing is left owed. */
const checkDelivery = async (m: CrashMarket, store: Store, sent: readonly Sent[]): Promise<void> => {
  const count = (trail: { kind: string; messageId?: string; payload: unknown }[], action: string) => {
    const n = new Map<string, number>();
    for (const r of trail)
      if (
        r.kind === 'beckn.in' &&
        r.messageId &&
        (r.payload as { action: string; outcome?: string }).action === action &&
        (r.payload as { outcome?: string }).outcome === 'ACK'
      )
        n.set(r.messageId, (n.get(r.messageId) ?? 0) + 1);
    return n;
  };
  const bppTrail = await store.auditTrail();
  const bapTrail = await m.bapStore.auditTrail();
  for (const s of sent) {
    assert.equal(
      count(bppTrail, s.action).get(s.messageId),
      1,
      `${s.action} ${s.messageId} (run ${s.run}) took effect once at the BPP`,
    );
    assert.equal(
      count(bapTrail, `on_${s.action}`).get(s.messageId),
      1,
      `on_${s.action} for ${s.messageId} (run ${s.run}) accepted once by the BAP`,
    );
  }
  assert.deepEqual(
    (await store.listOutbox())
      .filter((o) => o.status !== 'sent')
      .map((o) => `${o.id}: ${o.status} ${o.lastError ?? ''}`),
    [],
    'nothing owed is left unsent or given up',
  );
};

test(
  `crash safety on SQLite: ${SQLITE_KILLS.length} SIGKILLs of the BPP process, one just after the ACK of each of search, select, init, confirm, status and cancel and ${RANDOM_RUNS} at random points, restarted each time`,
  { timeout: 900_000 },
  async (t) => {
    await crashRuns(t, (dir) => ({ sqlite: `${dir}/bpp.db` }), SQLITE_KILLS, SEED);
  },
);

test(
  'crash safety on PostgreSQL: 4 SIGKILLs of the BPP process at random points of the lifecycle, restarted each time',
  { timeout: 600_000 },
  async (t) => {
    const pg = await startPostgres();
    try {
      const url = await pg.createDatabase('crash');
      const random: KillPoint[] = ['random', 'random', 'random', 'random'];
      await crashRuns(t, () => ({ postgres: { url, schema: 'flex' } }), random, SEED + 1);
    } finally {
      await pg.stop();
    }
  },
);
