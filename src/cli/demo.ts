// `flexlon demo`: the whole market on loopback, replaying one real GB day on an accelerated clock.
// The grid side finds the day's peak, buys a demand reduction from the data centre over the full
// Beckn lifecycle, the data centre defers jobs to deliver it, the meter proves it, and the summary
// compares the day with the same queue run without FlexLon (printed by demo-summary.ts).
import { randomUUID } from 'node:crypto';
import { verifyChain } from '../audit/chain.ts';
import { composeMarket, type Market } from '../compose/market.ts';
import { tickSites } from '../compose/market-day.ts';
import { settlementDayStartAfter } from '../domain/settlement-day.ts';
import { epochMs, type EpochMs } from '../domain/time.ts';
import { demoConfig, type DemoConfig } from '../config.ts';
import { BUSY_BACKLOG_HOURS, BUSY_OFFERED_LOAD, HALF_IDLE_JOBS } from '../sim/site-profile.ts';
import type { FlexNeed } from '../domain/offers.ts';
import type { SettlementSummary } from '../settlement/delivered.ts';
import type { SiteSettlement } from '../settlement/codec.ts';
import { createLogger } from '../log.ts';
import type { Procurement, StatusPush } from '../agents/grid/orchestrator.ts';
import type { PlanRecord } from '../agents/flex/plan-record.ts';
import type { ProcurementEvent } from '../agents/grid/procurement-loop.ts';
import { FlexError, type ErrorCode } from '../errors.ts';
import type { Store } from '../ports.ts';
import { parseFlags, type Command, type Output } from './command.ts';
import { compare, type Savings } from './demo-compare.ts';
import { DEFAULT_MONITOR, type MonitorEvent, type MonitorPolicy } from '../agents/grid/monitor.ts';
import { eventLines, hhmm, monitorLines, monitorPolicyLine, pushLine, stamp, Timeline } from './demo-events.ts';
import { printSummary, type AuditCheck, type SiteOutcome } from './demo-summary.ts';

export interface DemoResult {
  readonly runDir: string;
  readonly need: FlexNeed;
  readonly procurement: Procurement;
  readonly finalState: string | undefined;
  readonly settlement: SettlementSummary;
  /** The settlement statement the BPP sent in on_support after delivery. */
  readonly statement: SettlementSummary | undefined;
  /** Over every site. */
  readonly savings: Savings;
  /** Each site behind the BPP. */
  readonly sites: readonly SiteOutcome[];
  readonly audit: readonly AuditCheck[];
}

/**
 * Each site's part of the order. A portfolio order's on_status carries a settlement per site; an
 * order for one site's offer is that site's alone (its totals), and the other sites had no part.
 */
const siteParts = (
  m: Market,
  p: Procurement,
  total: SettlementSummary,
  fromStatus: readonly SiteSettlement[],
): Map<string, SiteSettlement> => {
  if (fromStatus.length > 0) return new Map(fromStatus.map((x) => [x.site, x]));
  const own = m.sites.find((x) => x.id === p.offer.site);
  return own
    ? new Map([
        [
          own.id,
          {
            site: own.id,
            deliveredKwh: total.deliveredKwh,
            committedKwh: total.committedKwh,
            shortfallKwh: total.shortfallKwh,
            performance: total.performance,
            paymentGbp: total.paymentGbp,
          },
        ],
      ])
    : new Map();
};

/** Every store's audit trail, its hash chain checked: the market's, and each further provider's and agent's. */
const auditChecks = async (m: Market): Promise<AuditCheck[]> => {
  const audit: AuditCheck[] = [];
  const stores: [string, Store][] = [
    ...Object.entries(m.stores),
    ...m.providers.slice(1).map((x): [string, Store] => [`flex ${x.id}`, x.store]),
    ...m.sites.slice(1).map((x): [string, Store] => [`agent ${x.id}`, x.store]),
  ];
  for (const [name, store] of stores) {
    const trail = await store.auditTrail();
    // Files in the run folder are named relative to it (printed once, above the summary), so two
    // runs with the same flags print the same summary.
    const where = store.location.startsWith(`${m.runDir}/`)
      ? store.location.slice(m.runDir.length + 1)
      : store.location;
    audit.push({ store: `${name}: ${where}`, records: trail.length, ok: verifyChain(trail).ok });
  }
  return audit;
};

/** The site profile in a line (src/sim/site-profile.ts). */
const PROFILE_WORDS: Record<DemoConfig['siteProfile'], string> = {
  busy: `DGX A100 nodes (6.5 kW datasheet max), jobs arriving by hour as in the Alibaba GPU 2023 trace from ${24 - BUSY_BACKLOG_HOURS}:00 the evening before (the backlog at midnight), drawn until they ask for ${BUSY_OFFERED_LOAD * 100} % of the training GPUs' hours, the last one overshooting (unless --jobs; each site's line says how much)`,
  'half-idle': `3.9 kW A100 nodes, ${HALF_IDLE_JOBS} jobs (unless --jobs) in placeholder working-day arrivals: the demo before issue 13`,
};

export const runDemo = async (
  c: DemoConfig,
  io: Output,
  signal: AbortSignal,
  extra: { readonly meterOut?: string; readonly monitor?: MonitorPolicy } = {},
): Promise<DemoResult> => {
  const log = createLogger(c.logLevel);
  const runId = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`;
  // The banner once the date and sites are checked, so a refused date gets only its error.
  let bannered = false;
  const onChecked = () => {
    if (bannered) return;
    bannered = true;
    io.out(
      `FlexLon demo: replaying ${c.date} (real GB carbon intensity and market index price) at ${c.secondsPerDay} s per day`,
    );
    io.out(`data directory: ${c.dataDir}`);
  };
  // The BPP tells the grid side unasked when delivery starts and ends (an unsolicited on_status).
  const market: { clock?: { now(): number }; m?: Market; error?: FlexError } = {};
  const timeline = new Timeline(io.out);
  const onStatusPush = (push: StatusPush) => {
    if (market.clock) {
      const at = market.clock.now();
      // With several providers, say whose order the push is about.
      const from = market.m?.loop.current?.parts.find((x) => x.procurement.orderId === push.orderId);
      const who = from && (market.m?.providers.length ?? 1) > 1 ? ` (${from.procurement.bpp.subscriber_id})` : '';
      timeline.add(at, 1, [pushLine(at, push) + who]);
    }
  };
  // What the buyer's procurement loop does, as it happens (its events name the market time).
  const onProcurement = (e: ProcurementEvent) => {
    if (!market.m) return;
    const sites = market.m.sites;
    if (e.kind === 'error') market.error ??= new FlexError(e.code as ErrorCode, e.message);
    const waiting = {
      jobs: sites.reduce((n, x) => n + x.cluster.waitingJobs(), 0),
      sites: sites.length,
      providers: market.m.providers.length,
    };
    // The window opening is narrated before anything else at its moment (the push that delivery started).
    timeline.add(e.at, e.kind === 'window-open' ? 0 : 1, eventLines(e, waiting));
  };
  // Delivery monitoring (--monitor, --top-up): what it finds is narrated at its moment.
  const onMonitor = (e: MonitorEvent) => timeline.add(e.at, 1, monitorLines(e));
  // A cap in kg (--carbon-cap KG) is hard: a plan that cannot keep it holds every waiting job, so
  // the day would run with nothing dispatched. The first plan the cap makes infeasible (its reason,
  // optimise/explain.ts, names "the carbon cap") ends the demo with that reason.
  const stopDay = new AbortController();
  const onPlanRecorded = (plan: PlanRecord) => {
    if (typeof c.carbonCap !== 'number' || plan.status !== 'infeasible' || stopDay.signal.aborted) return;
    if (!plan.infeasibleReason?.includes('carbon cap')) return;
    market.error = new FlexError(
      'FLX_CONFIG_INVALID',
      `--carbon-cap ${c.carbonCap}: no plan can keep it, so every waiting job would stay held all day: ${plan.infeasibleReason ?? 'the plan is infeasible'}. Give a larger cap, or --carbon-cap fifo (kept cumulatively against FIFO, and planned without where it cannot hold)`,
    );
    stopDay.abort();
  };
  const m = await composeMarket(c, runId, log, {
    onChecked,
    onStatusPush,
    onProcurement,
    onPlanRecorded,
    ...(extra.monitor ? { monitor: extra.monitor, onMonitor } : {}),
  });
  market.clock = m.clock;
  market.m = m;
  const stopOnAbort = () => {
    void m.stop();
  };
  signal.addEventListener('abort', stopOnAbort, { once: true });
  try {
    const agents =
      m.sites.length === 1
        ? `compute agent ${m.urls.agent}`
        : `compute agents ${m.sites.map((x) => `${x.id} ${x.url}`).join(', ')}`;
    io.out(
      `market on loopback: registry ${m.urls.registry}, gateway (BG) ${m.urls.gateway}, grid orchestrator (BAP) ${m.urls.bap}, flexibility orchestrator (BPP) ${m.urls.bpp}, ${agents}`,
    );
    // The operator dashboards (issue 19, docs/dashboard.md), live while the day runs and after it.
    if (c.serve)
      io.out(
        `dashboard: ${m.urls.bpp}/dashboard/ (provider), ${m.urls.bap}/dashboard/ (buyer); operator token in ${m.runDir}/operator.token`,
      );
    io.out(`site profile ${c.siteProfile}: ${PROFILE_WORDS[c.siteProfile]}`);
    for (const site of m.sites) {
      const queue = await site.cluster.listJobs();
      io.out(
        `site ${site.id}: ${site.cluster.totalGpus} GPUs, import limit ${site.cluster.gridImportLimitKw} kW; ${site.jobs} deferrable GPU jobs arrive during the day (${queue.length} queued at UK midnight, ${hhmm(m.dayStart)} UTC), asking for ${(site.offeredLoad * 100).toFixed(0)} % of the training GPUs' hours, plus inference load`,
      );
    }
    if (m.providers.length > 1)
      io.out(
        `${m.providers.length} providers, each selling its own site (${m.providers.map((x) => `${x.id}: ${x.sites.join(', ')}`).join('; ')}): the grid orchestrator splits its need across them`,
      );
    else if (m.sites.length > 1)
      io.out(
        `all ${m.sites.length} sites sell through the one flexibility orchestrator: an offer per site, and a portfolio offer split across the sites by the optimiser`,
      );
    if (c.events) {
      const loaded = await m.gridEvents.loadFile(c.events);
      io.out(
        `grid orchestrator: ${loaded.programs.length} program(s) and ${loaded.events.length} event(s) loaded from ${c.events}`,
      );
    }
    if (extra.monitor) io.out(monitorPolicyLine(extra.monitor));
    io.out(
      'times are UTC, with the GB settlement period (SP1 starts at UK local midnight) and UK local time when it differs',
    );
    await tickSites(m.sites, m.dayStart, log);
    if (stopDay.signal.aborted) throw market.error;
    await m.runDay(AbortSignal.any([signal, stopDay.signal])).catch((e: unknown) => {
      throw stopDay.signal.aborted ? market.error : e;
    });
    // Served: market time stops at the replayed day's last moment as soon as its last slot is
    // worked (a few ms of market time after it), not after the summary, by when it would have run
    // on into the next day (hours of it at a fast replay) and then been set back.
    if (c.serve) m.clock.hold(lastMomentOf(m.dayStart));
    timeline.flush();
    const day = m.loop.days.find((d) => d.day === m.dayStart);
    const need = day?.need;
    const p = day?.procurement;
    if (!p) {
      if (market.error) throw market.error;
      throw new FlexError(
        'FLX_NO_DEAL',
        day?.tried
          ? 'the grid orchestrator bought no flexibility (see above)'
          : need
            ? `the day ended before the grid orchestrator could search for ${hhmm(need.windowStart)}–${hhmm(need.windowEnd)} (the replay may be too fast: try a larger --seconds-per-day)`
            : 'the grid orchestrator found no window to ask for in the day',
      );
    }
    const settlement = day.settlement;
    if (!settlement)
      throw market.error ?? new FlexError('FLX_PEER_UNREACHABLE', 'no settlement was received in on_status');
    const finalState = day.finalState;
    const statement = day.statement;
    const siteSettlements = day.sites;
    const compared = await compare(m);
    const savings = compared.total;
    const parts = siteParts(m, p, settlement, siteSettlements);
    const sites = compared.sites.map((x) => ({ site: x.site, settlement: parts.get(x.site), savings: x.savings }));
    const audit = await auditChecks(m);
    await printSummary(io, {
      config: c,
      market: m,
      day,
      procurement: p,
      settlement,
      savings,
      sites,
      audit,
      ...(extra.meterOut ? { meterOut: extra.meterOut } : {}),
    });
    return {
      runDir: m.runDir,
      need: need as FlexNeed,
      procurement: p,
      finalState,
      settlement,
      statement,
      savings,
      sites,
      audit,
    };
  } finally {
    timeline.flush();
    signal.removeEventListener('abort', stopOnAbort);
    if (!(c.serve && !signal.aborted)) await m.stop();
    else {
      // The replay is over: market time stands at the replayed day's last moment, so the dashboards
      // show that day (its metered periods, its late jobs) rather than run on into the next one,
      // where no site reports and every job still queued reads overdue.
      const last = lastMomentOf(m.dayStart);
      m.clock.hold(last);
      io.out(
        `\n--serve: everything keeps running, with market time held at the end of the replayed day ${stamp(last)}; Ctrl-C stops it.`,
      );
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await m.stop();
    }
  }
};

/** The replayed day's last millisecond: where --serve holds market time (SP48, or SP46/SP50). */
const lastMomentOf = (dayStart: EpochMs): EpochMs => epochMs(settlementDayStartAfter(dayStart, 1) - 1);

const USAGE = `Usage: flexlon demo [options]

Runs the whole flexibility market on this machine (127.0.0.1, ports chosen automatically) and replays
one day of real GB grid data on an accelerated clock; prints the deal, the delivery and the savings.

Options:
  --data-dir DIR          where state, audit logs and keys go (default: $FLEXLON_DATA_DIR or ~/.flexlon);
                          each run writes a new folder under DIR/runs/
  --date YYYY-MM-DD       the GB settlement day to replay, from UK midnight (default 2023-01-24; any day from 2022-11-25 to 2024-09-29: the data runs to 2024-09-30, and a replay reads the day after)
  --seconds-per-day N     wall-clock seconds one market day takes (default 20, at least 15)
  --seed N                workload seed (default 7)
  --site-profile busy|half-idle
                          how busy each simulated site is (default busy): busy is a training site of
                          DGX A100 nodes (6.5 kW datasheet max) whose jobs, arriving by hour as in the
                          Alibaba GPU 2023 trace from 18:00 the evening before (so some wait at
                          midnight), ask for 95 % of its GPUs' hours in the day; half-idle
                          is the demo before issue 13 (36 jobs, 3.9 kW nodes, about half of them asked for)
  --jobs N                deferrable GPU jobs in the day, per site, instead of the profile's own
                          (half-idle: 36; busy: as many as fill 95 %, 61 on lon with seed 7). With busy,
                          N jobs are drawn from the same busy distributions, so fewer than the default
                          leave room and more overload the site (the summary prints the % asked for);
                          work that does not fit runs late at its lateness cost
  --sites N               simulated sites behind the one flexibility orchestrator, 1 to 4 (default 1):
                          lon, man, edi and cdf, each with its own agent, queue and meter; with 2 or
                          more the BPP also offers a portfolio reduction split across them by the optimiser
  --providers one|per-site
                          who sells the sites (default one): one flexibility orchestrator for all, or
                          each site its own provider (BPP); the buyer then splits its need across them
  --carbon-cap none|fifo|fifo-intensity|KG
                          carbon cap (default fifo): fifo keeps the day's emissions at most those of
                          the same queue on FIFO (a plan that cannot is made without it and counted),
                          fifo-intensity its CO2 per kWh imported at most FIFO's, KG caps each plan's
                          48 h horizon at a fixed figure (hard: the first plan it makes impossible
                          stops the demo, exit 2), none plans on £ alone
  --capacity-value SHARE  0 to 1 (default 0, none): the plan prices each hour a kWh waits at a full
                          site (offered load from 60 % up) at SHARE of an hour of lateness, so GPUs
                          are not left idle now for room later that jobs still to come will want
                          (docs/cost-model.md, "Capacity value on a full site"); the backtest uses 0.25
  --baseline fifo|bl01    settlement baseline (default fifo): the same queue on a plain FIFO scheduler,
                          or BL01 (P376-style: mean of the 10 most recent working days' meter, from
                          simulated history of the site's previous days)
  --meter-out DIR         write each site's meter (its BL01 history and the day) as a real-format CSV
                          and the order's terms to DIR, and print the \`flexlon settle\` line that
                          settles the order from them (docs/settlement.md)
  --log-level LEVEL       debug, info, warn, error or silent (default warn; logs go to stderr)
  --events FILE           OpenADR 3-style grid programs/events (JSON) for the Grid Orchestrator;
                          an event's window becomes the need (docs/examples/openadr-dso-events.json)
  --monitor               the buyer follows delivery while the window runs: status each slot and the
                          provider's pushes; a shortfall beyond 5 % of the energy committed so far is
                          alerted (audited, and printed in the timeline)
  --top-up                --monitor, and a shortfall is topped up from another provider for the rest
                          of the window (with one provider there is none: the timeline says so)
  --serve                 keep everything running after the day (Ctrl-C stops)
  -h, --help              this help`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run the whole market on loopback over one replayed GB day',
  usage: USAGE,
  async run(argv, io, signal) {
    const { values } = parseFlags(
      argv,
      {
        'data-dir': { type: 'string' },
        date: { type: 'string' },
        'seconds-per-day': { type: 'string' },
        seed: { type: 'string' },
        jobs: { type: 'string' },
        'site-profile': { type: 'string' },
        'carbon-cap': { type: 'string' },
        'capacity-value': { type: 'string' },
        sites: { type: 'string' },
        providers: { type: 'string' },
        baseline: { type: 'string' },
        'log-level': { type: 'string' },
        serve: { type: 'boolean' },
        events: { type: 'string' },
        'meter-out': { type: 'string' },
        monitor: { type: 'boolean' },
        'top-up': { type: 'boolean' },
      },
      USAGE,
    );
    const config = demoConfig({
      dataDir: values['data-dir'],
      date: values.date,
      secondsPerDay: values['seconds-per-day'],
      seed: values.seed,
      jobs: values.jobs,
      siteProfile: values['site-profile'],
      sites: values.sites,
      providers: values.providers,
      baseline: values.baseline,
      carbonCap: values['carbon-cap'],
      capacityValue: values['capacity-value'],
      logLevel: values['log-level'],
      serve: values.serve,
      events: values.events,
    });
    // --top-up implies --monitor; the tolerance is the WPD Flexible Power 5 % (monitor.ts).
    const monitor: MonitorPolicy | undefined =
      values['top-up'] || values.monitor ? { ...DEFAULT_MONITOR, topUp: values['top-up'] === true } : undefined;
    const result = await runDemo(config, io, signal, {
      ...(values['meter-out'] ? { meterOut: values['meter-out'] } : {}),
      ...(monitor ? { monitor } : {}),
    });
    return result.audit.every((a) => a.ok) ? 0 : 1;
  },
};
