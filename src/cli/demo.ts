// `flexlon demo`: the whole market on loopback, replaying one real GB day on an accelerated clock.
// The grid side finds the day's peak, buys a demand reduction from the data centre over the full
// Beckn lifecycle, the data centre defers jobs to deliver it, the meter proves it, and the summary
// compares the day with the same queue run without FlexLon.
import { randomUUID } from 'node:crypto';
import { verifyChain } from '../audit/chain.ts';
import { composeMarket, SLOT_MINUTES, type Market } from '../compose.ts';
import { demoConfig, type DemoConfig } from '../config.ts';
import type { FlexNeed } from '../domain/offers.ts';
import type { SettlementSummary } from '../domain/settlement.ts';
import { carbonOf, pricesOf } from '../domain/signals.ts';
import { epochMs, isoOf, type EpochMs, type SlotGrid } from '../domain/time.ts';
import { createLogger } from '../log.ts';
import { DEFAULT_NEED_POLICY, type Procurement } from '../agents/grid/orchestrator.ts';
import { askSupport, statementOf } from '../agents/grid/post-order.ts';
import { FlexError } from '../errors.ts';
import { parseFlags, type Command, type Output } from './command.ts';

export interface DemoResult {
  readonly runDir: string;
  readonly need: FlexNeed;
  readonly procurement: Procurement;
  readonly finalState: string | undefined;
  readonly settlement: SettlementSummary;
  /** The settlement statement the BPP sent in on_support after delivery. */
  readonly statement: SettlementSummary | undefined;
  readonly savings: { readonly gbp: number; readonly gCo2: number; readonly bauKwh: number; readonly flexlonKwh: number };
  readonly audit: readonly { readonly store: string; readonly records: number; readonly ok: boolean }[];
}

const DAY_MS = 86_400_000;
const hhmm = (t: number): string => isoOf(t).slice(11, 16);
const money = (n: number): string => `£${n.toFixed(2)}`;

/** £ and gCO2 the day cost less than business as usual, over two days so deferred work is counted. */
const compare = async (m: Market): Promise<DemoResult['savings']> => {
  const grid: SlotGrid = { start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: (2 * DAY_MS) / (SLOT_MINUTES * 60_000) };
  const end = epochMs(m.dayStart + 2 * DAY_MS);
  m.cluster.advanceTo(end);
  m.businessAsUsual.advanceTo(end);
  const [actual, bau, outturn] = await Promise.all([m.cluster.importKw(grid), m.businessAsUsual.importKw(grid), m.signals.outturn('GB', grid)]);
  const prices = pricesOf(outturn);
  const carbon = carbonOf(outturn, 'actual');
  const h = SLOT_MINUTES / 60;
  let gbp = 0; let gCo2 = 0; let bauKwh = 0; let flexlonKwh = 0;
  for (let t = 0; t < grid.slots; t++) {
    const diff = ((bau[t] ?? 0) - (actual[t] ?? 0)) * h;
    gbp += (diff * (prices[t] ?? 0)) / 1000;
    gCo2 += diff * (carbon[t] ?? 0);
    bauKwh += (bau[t] ?? 0) * h;
    flexlonKwh += (actual[t] ?? 0) * h;
  }
  return { gbp, gCo2, bauKwh, flexlonKwh };
};

export const runDemo = async (c: DemoConfig, io: Output, signal: AbortSignal): Promise<DemoResult> => {
  const log = createLogger(c.logLevel);
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  io.out(`FlexLon demo: replaying ${c.date} (real GB carbon intensity and market index price) at ${c.secondsPerDay} s per day`);
  io.out(`data directory: ${c.dataDir}`);
  const m = await composeMarket(c, runId, log);
  const stopOnAbort = () => { void m.stop(); };
  signal.addEventListener('abort', stopOnAbort, { once: true });
  try {
    io.out(`market on loopback: registry ${m.urls.registry}, gateway (BG) ${m.urls.gateway}, grid orchestrator (BAP) ${m.urls.bap}, flexibility orchestrator (BPP) ${m.urls.bpp}, compute agent ${m.urls.agent}`);
    const queue = await m.cluster.listJobs();
    io.out(`site lon: ${m.cluster.totalGpus} GPUs, import limit ${m.cluster.gridImportLimitKw} kW; ${c.jobs} deferrable GPU jobs arrive during the day (${queue.length} queued at 00:00) plus inference load`);
    if (c.events) {
      const loaded = await m.gridEvents.loadFile(c.events);
      io.out(`grid orchestrator: ${loaded.programs.length} program(s) and ${loaded.events.length} event(s) loaded from ${c.events}`);
    }
    await m.agent.tick(m.dayStart);
    const day: SlotGrid = { start: m.dayStart, slotMinutes: SLOT_MINUTES, slots: DAY_MS / (SLOT_MINUTES * 60_000) };
    const need = await m.bap.detectNeed(day);
    if (!need) throw new FlexError('FLX_DATA_INVALID', 'the grid orchestrator found no window to ask for in the day');
    const why = need.kind === 'import-limit' ? 'a grid event (network constraint) asks for' : 'day-ahead forecast puts the evening peak at';
    io.out(`\n[${hhmm(m.clock.now())}] grid: ${why} ${hhmm(need.windowStart)}–${hhmm(need.windowEnd)} UTC; it will ask for up to ${need.wantedKw} kW`);
    m.clock.start();
    const slotMs = SLOT_MINUTES * 60_000;
    const procureAt = epochMs(need.windowStart - DEFAULT_NEED_POLICY.procureLeadSlots * slotMs);
    const statusAt = epochMs(need.windowEnd + slotMs);
    let p: Procurement | undefined;
    let finalState: string | undefined;
    let settlement: SettlementSummary | undefined;
    let statement: SettlementSummary | undefined;
    await m.agent.run(epochMs(m.dayStart + DAY_MS), signal, async (t: EpochMs) => {
      if (t === procureAt) {
        const queued = (await m.cluster.listJobs()).filter((j) => j.state === 'queued').length;
        io.out(`[${hhmm(t)}] grid: ${queued} jobs queued at the site; the grid orchestrator searches the network`);
        const got = await m.bap.procure(need, randomUUID());
        if ('none' in got) { io.out(`[${hhmm(m.clock.now())}] no flexibility bought: ${got.none}`); return; }
        p = got;
        const hours = (p.offer.windowEnd - p.offer.windowStart) / 3_600_000;
        io.out(`[${hhmm(m.clock.now())}] offer (on_search): ${p.offer.reductionKw.toFixed(0)} kW at ${p.offer.site} ${hhmm(p.offer.windowStart)}–${hhmm(p.offer.windowEnd)}, ${money(p.offer.priceGbp)} (${p.offer.priceGbpPerMwh.toFixed(2)} £/MWh; opportunity cost ${money(p.offer.opportunityCostGbp)})`);
        io.out(`[${hhmm(m.clock.now())}] committed (select → init → confirm): ${p.selectedKw.toFixed(0)} kW for ${hours} h, ${money(p.quotedGbp)}, order ${p.orderId}, baseline ${p.baselineMethod}`);
      }
      if (p && t === p.offer.windowStart) io.out(`[${hhmm(t)}] window opens: deferred jobs wait, site import held down`);
      if (p && t === statusAt) {
        const s = await m.bap.status(p);
        finalState = s.state;
        settlement = s.settlement;
        io.out(`[${hhmm(t)}] status → on_status: ${s.state ?? 'unknown'}`);
        statement = statementOf(await askSupport(m.bap, p));
        io.out(`[${hhmm(m.clock.now())}] support → on_support: ${statement ? `signed settlement statement, ${statement.deliveredKwh.toFixed(1)} kWh delivered, payment ${money(statement.paymentGbp)}` : 'contact only (no statement yet)'}`);
      }
    });
    if (!p) throw new FlexError('FLX_PEER_NACK', 'the grid orchestrator bought no flexibility (see above)');
    if (!settlement) throw new FlexError('FLX_PEER_UNREACHABLE', 'no settlement was received in on_status');
    const savings = await compare(m);
    const audit = [];
    for (const [name, store] of Object.entries(m.stores)) {
      const trail = await store.auditTrail();
      audit.push({ store: `${name}: ${store.location}`, records: trail.length, ok: verifyChain(trail).ok });
    }
    io.out('\nSummary');
    io.out(`  offer       ${p.offer.reductionKw.toFixed(0)} kW reduction at ${p.offer.site} (${p.offer.region}), ${hhmm(p.offer.windowStart)}–${hhmm(p.offer.windowEnd)} UTC, ${money(p.offer.priceGbp)}`);
    io.out(`  committed   ${p.selectedKw.toFixed(0)} kW, ${hhmm(p.offer.windowStart)}–${hhmm(p.offer.windowEnd)} UTC, ${money(p.quotedGbp)}`);
    for (const per of settlement.periods) io.out(`  ${hhmm(per.start)}       baseline ${per.baselineKw.toFixed(0)} kW, metered ${per.meteredKw.toFixed(0)} kW, delivered ${per.deliveredKwh.toFixed(1)} kWh`);
    io.out(`  delivered   ${settlement.deliveredKwh.toFixed(1)} kWh of ${settlement.committedKwh.toFixed(1)} kWh committed (${(settlement.performance * 100).toFixed(0)} %), baseline ${settlement.baselineMethod}; payment ${money(settlement.paymentGbp)}`);
    io.out(`  saved       ${money(savings.gbp)} energy cost and ${(savings.gCo2 / 1000).toFixed(1)} kgCO2 against the same queue without FlexLon (${savings.bauKwh.toFixed(0)} vs ${savings.flexlonKwh.toFixed(0)} kWh over two days)`);
    io.out('  audit       every message in and out, plan, dispatch and meter reading, hash-chained:');
    for (const a of audit) io.out(`                ${a.ok ? 'intact' : 'BROKEN'} ${String(a.records).padStart(4)} records  ${a.store}`);
    return { runDir: m.runDir, need, procurement: p, finalState, settlement, statement, savings, audit };
  } finally {
    signal.removeEventListener('abort', stopOnAbort);
    if (!(c.serve && !signal.aborted)) await m.stop();
    else {
      io.out('\n--serve: everything keeps running; Ctrl-C stops it.');
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await m.stop();
    }
  }
};

const USAGE = `Usage: flexlon demo [options]

Runs the whole flexibility market on this machine (127.0.0.1, ports chosen automatically) and replays
one day of real GB grid data on an accelerated clock; prints the deal, the delivery and the savings.

Options:
  --data-dir DIR          where state, audit logs and keys go (default: $FLEXLON_DATA_DIR or ~/.flexlon);
                          each run writes a new folder under DIR/runs/
  --date YYYY-MM-DD       the day to replay (default 2023-01-24; shipped data covers 2023-01-01 to 2024-09-29)
  --seconds-per-day N     wall-clock seconds one market day takes (default 20)
  --seed N                workload seed (default 7)
  --jobs N                deferrable GPU jobs in the day (default 36)
  --log-level LEVEL       debug, info, warn, error or silent (default warn; logs go to stderr)
  --events FILE           OpenADR 3-style grid programs/events (JSON) for the Grid Orchestrator;
                          an event's window becomes the need (docs/examples/openadr-dso-events.json)
  --serve                 keep everything running after the day (Ctrl-C stops)
  -h, --help              this help`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole market on loopback over one replayed GB day',
  usage: USAGE,
  async run(argv, io, signal) {
    const { values } = parseFlags(argv, {
      'data-dir': { type: 'string' }, date: { type: 'string' }, 'seconds-per-day': { type: 'string' }, seed: { type: 'string' },
      jobs: { type: 'string' }, 'log-level': { type: 'string' }, serve: { type: 'boolean' }, events: { type: 'string' },
    }, USAGE);
    const config = demoConfig({
      dataDir: values['data-dir'], date: values.date, secondsPerDay: values['seconds-per-day'], seed: values.seed, jobs: values.jobs,
      logLevel: values['log-level'], serve: values.serve, events: values.events,
    });
    const result = await runDemo(config, io, signal);
    return result.audit.every((a) => a.ok) ? 0 : 1;
  },
};
