// GPU power caps at a backtest site (issue 15: flexlon "using every lever"; the lever is issue 13
// item 2, docs/cost-model.md "GPU power caps"; docs/backtest.md "GPU power caps").
// - The rule (capsFor): flexlon and the oracle plan every job whole; each period a running job at a
//   site that is not contended (planner-strategy.ts capNode) is capped, at the measured cap that
//   saves most over the hours it can be kept (since 2026-12-07; the lowest cap before), where that
//   pays at the strategy's prices, it still finishes before its deadline period, and the plan has
//   room for its longer run. The cap is the watts per GPU the Compute-Flex agent would set for the power
//   (src/agents/compute/levers.ts capWattsFor: linear between the lowest cap and TDP).
// - The site (site-sim.ts) runs a capped job as the measured A100 sweep says a GPU runs under that
//   cap (src/sim/power-cap.ts): it draws the sweep's power and does the sweep's share of its work.
//   Work is counted in full-power kWh (SimJob.remainingKwh): a job capped to speed s progresses
//   s × powerKw of it per hour while drawing drawKw.
// - A GPU's share of its node's load overhead (fans, CPUs, NICs) is drawn whatever the cap, so a cap
//   saves less energy per unit of work on a node with a large overhead: the half-idle profile's node
//   (0.5 → 1.0 kW of overhead) needs 0.77 of the energy per GPU-hour of work at the lowest cap (half
//   of TDP), the busy profile's (1.5 → 3.3 kW) 0.98 there and 0.93 at best (minEnergyPerWork).
import type { ComputeJob } from '../domain/compute.ts';
import type { JobSchedule } from '../domain/planning.ts';
import { PERIOD_H, PERIOD_MS } from '../domain/settlement-day.ts';
import { kw } from '../domain/units.ts';
import { capWattsFor } from '../agents/compute/levers.ts';
import { cappedDrawW, MEASURED_CAP_FRACTIONS, MIN_CAP_FRACTION, minCapW, throughputAt } from '../sim/power-cap.ts';
import { gpuMarginalKw, type GpuNodePower } from '../sim/power.ts';

/** How a capped job runs over a period: its marginal IT draw and its progress (full-power kWh) per hour. */
export interface CapRun {
  readonly drawKw: number;
  readonly rateKw: number;
}

const tdpW = (node: GpuNodePower): number => node.gpuTdpW ?? node.gpuPeakW;

/** A job's marginal draw with its GPUs capped at `capW`: its uncapped draw scaled as one GPU's is. */
const drawAt = (node: GpuNodePower, powerKw: number, capW: number): number =>
  (powerKw * gpuMarginalKw(node, cappedDrawW(node, capW))) / gpuMarginalKw(node);

/**
 * A job of `powerKw` at full power as a scheduler that can cap it reports it (ComputeJob): its power
 * at the lowest cap, the caps its GPUs accept and its speed at the lowest.
 */
export const capFields = (
  node: GpuNodePower,
  powerKw: number,
): Required<Pick<ComputeJob, 'minPowerKw' | 'powerCapRangeW' | 'minCapThroughput'>> => ({
  minPowerKw: kw(drawAt(node, powerKw, minCapW(node))),
  powerCapRangeW: { minW: minCapW(node), maxW: tdpW(node) },
  minCapThroughput: throughputAt(MIN_CAP_FRACTION),
});

/**
 * How a job of `powerKw` runs when the plan gives it `plannedKw` while it runs: the cap the agent
 * would set for that power, then the sweep's draw and speed under it. Undefined where the plan asks
 * for full power (or more).
 */
export const cappedRun = (node: GpuNodePower, powerKw: number, plannedKw: number): CapRun | undefined => {
  const fields = capFields(node, powerKw);
  const capW = capWattsFor({ ...fields, powerKw: kw(powerKw) }, plannedKw);
  if (capW === undefined || capW >= tdpW(node)) return undefined;
  return { drawKw: drawAt(node, powerKw, capW), rateKw: powerKw * throughputAt(capW / tdpW(node)) };
};

/**
 * The least energy per unit of work any cap gives a job on this node, against uncapped (≤ 1): a
 * lower bound needs it (bound.ts), since a strategy that caps may do the same work on less energy.
 * Draw and speed are linear between the sweep's caps, so their ratio is least at one of them.
 */
export const minEnergyPerWork = (node: GpuNodePower): number => {
  const tdp = tdpW(node);
  let least = 1;
  for (const f of [MIN_CAP_FRACTION, ...MEASURED_CAP_FRACTIONS]) {
    if (f < MIN_CAP_FRACTION || f > 1) continue;
    least = Math.min(least, gpuMarginalKw(node, cappedDrawW(node, f * tdp)) / gpuMarginalKw(node) / throughputAt(f));
  }
  return least;
};

/** What the rule reads of a running job (sim-job.ts SimJob has it). */
export interface RunningJob {
  readonly id: string;
  readonly powerKw: number;
  /** Full-power kWh of work left. */
  readonly remainingKwh: number;
  readonly deadlineAt: number;
}

/** What both rules read of a site whose jobs may be capped now. */
export interface CapSite {
  /** The site's node, where its jobs may be capped now. */
  readonly node: GpuNodePower;
  /** The site's plan (jobs whole). */
  readonly plan: readonly JobSchedule[];
  /** The site's IT limit for its jobs (kW): every GPU busy. */
  readonly limitKw: number;
  readonly now: number;
  /** The strategy's prices (£/MWh with carbon) per period from `now`. */
  readonly prices: readonly number[];
}

export interface CapInput extends CapSite {
  readonly running: readonly RunningJob[];
  /** The current period's slot in the plan (the plan is the site's last, made then). */
  readonly slot: number;
  /** IT power (kW) per period from now that jobs started this period add to the plan (cappedStarts). */
  readonly addedKw?: readonly number[];
}

/**
 * The start of the period holding a job's deadline: the metrics count what runs in it as late
 * (site-sim.ts), so a cap must not push work past it.
 */
const dueBy = (j: RunningJob): number => Math.floor(j.deadlineAt / PERIOD_MS) * PERIOD_MS;

/**
 * The running jobs capped over the current period, each at the planned power (kW) of the cap that
 * saves most, where all of these hold:
 * - it pays at the prices: capped, the job draws `drawKw` now and leaves (1 − speed) of the period's
 *   work to the end of its run, so a cap pays where price now × (full − drawKw) > price there ×
 *   (1 − speed) × full. The rule takes the measured cap (capChoices) whose margin an hour, kept over
 *   the hours the job can stay capped, saves most: all its work (work left over speed × full) where
 *   its slack allows, else as long as its slack does (at full power the slack lasts s hours; capped
 *   it lasts s × full / ((1 − speed) × full)). With slack to spare that is the largest margin per unit
 *   of work: where now is much dearer the lowest cap; at equal prices the cap with the least energy
 *   per unit of work, the lowest on the half-idle profile's node (0.77 of the uncapped energy), 250 W
 *   of 400 on the busy profile's (0.93, against 0.98 at the lowest). With little slack a higher cap,
 *   which does more of the work on the time there is;
 * - it still finishes before the period holding its deadline;
 * - the plan has room for it at full power in the period its run would then end in and the next,
 *   together with the jobs already capped: a capped job holds its GPUs longer, and the plan gives free
 *   GPUs to later starts. Nothing is capped on what lies beyond the plan or the prices.
 */
export const capsFor = (i: CapInput): Map<string, number> => {
  const h = PERIOD_H;
  const own = new Map(i.plan.map((j) => [j.id, j.powerKw]));
  const horizon = i.plan.reduce((n, j) => Math.max(n, j.powerKw.length), 0);
  // The plan's load per slot, with what the jobs capped so far add: each holds its GPUs at full
  // power into the slots its run now ends in.
  const load = new Map<number, number>();
  const loadAt = (slot: number): number => {
    let kw = load.get(slot);
    if (kw === undefined) {
      kw = i.plan.reduce((a, x) => a + (x.powerKw[slot] ?? 0), 0) + (i.addedKw?.[slot - i.slot] ?? 0);
      load.set(slot, kw);
    }
    return kw;
  };
  const extra = (slot: number, j: RunningJob): number => j.powerKw - (own.get(j.id)?.[slot] ?? 0);
  const room = (slot: number, j: RunningJob): boolean => loadAt(slot) + extra(slot, j) <= i.limitKw + 1e-6;
  const out = new Map<string, number>();
  const p0 = i.prices[0] ?? 0;
  for (const j of i.running) {
    let best: { kw: number; end: number; margin: number } | undefined;
    // Hours to the period holding the deadline beyond the run at full power.
    const slackH = (dueBy(j) - i.now) / 3_600_000 - j.remainingKwh / j.powerKw;
    for (const c of capChoices(i.node, j.powerKw)) {
      // Hours of the run left after a capped period; a job that would finish within it is left alone.
      const leftH = (j.remainingKwh - c.run.rateKw * h) / j.powerKw;
      if (!(leftH > 0) || i.now + (h + leftH) * 3_600_000 > dueBy(j)) continue;
      // The slot of the plan the run would end in.
      const end = i.slot + Math.ceil(leftH / h);
      if (end + 1 >= horizon || end - i.slot >= i.prices.length) continue;
      if (!room(end, j) || !room(end + 1, j)) continue;
      const pEnd = i.prices[end - i.slot] ?? p0;
      // What the cap saves over the hours it can be kept: a job kept capped period after period saves
      // this an hour for as long as its work lasts (work left / speed) or its slack does (the slack at
      // full power stretches to slack × full / (full − speed × full) capped), whichever is shorter.
      const margin =
        (p0 * (j.powerKw - c.run.drawKw) - pEnd * (j.powerKw - c.run.rateKw)) *
        Math.min(j.remainingKwh / c.run.rateKw, (slackH * j.powerKw) / (j.powerKw - c.run.rateKw));
      if (margin > (best?.margin ?? 0)) best = { kw: c.plannedKw, end, margin };
    }
    if (!best) continue;
    out.set(j.id, best.kw);
    for (const slot of [best.end, best.end + 1]) load.set(slot, loadAt(slot) + extra(slot, j));
  }
  return out;
};

/**
 * The caps the rule chooses among for a job of `powerKw`: the sweep's measured caps from the lowest
 * FlexLon applies up to below TDP, each as the planned power (kW) that makes the Compute-Flex agent set
 * it (capWattsFor, whole watts) and how the job then runs. Between measured caps draw and speed are
 * linear, so a saving linear in both is largest at one of them. On 400 W parts every cap is a whole
 * watt and is set exactly; a cap of half a watt (437.5 W of 700) is set a watt either side, and the
 * rule still scores the run of the cap that is set.
 */
export const capChoices = (node: GpuNodePower, powerKw: number): { plannedKw: number; run: CapRun }[] => {
  const fields = capFields(node, powerKw);
  const { minW, maxW } = fields.powerCapRangeW;
  const out: { plannedKw: number; run: CapRun }[] = [];
  for (const f of [MIN_CAP_FRACTION, ...MEASURED_CAP_FRACTIONS.filter((x) => x > MIN_CAP_FRACTION)]) {
    const capW = f * tdpW(node);
    if (capW >= maxW) continue;
    // The inverse of capWattsFor's linear map, half a watt up so that its rounding down lands on capW.
    const plannedKw =
      capW <= minW
        ? fields.minPowerKw
        : fields.minPowerKw + ((capW + 0.5 - minW) / (maxW - minW)) * (powerKw - fields.minPowerKw);
    const run = cappedRun(node, powerKw, plannedKw);
    if (run) out.push({ plannedKw, run });
  }
  return out;
};

/** What the start rule reads of a waiting job (sim-job.ts SimJob has it). */
export interface WaitingJob extends RunningJob {
  readonly gpus: number;
}

export interface CappedStartInput extends CapSite {
  readonly waiting: readonly WaitingJob[];
  /** GPUs free for the period after the plan's own starts (and its early starts). */
  readonly freeGpus: number;
}

/**
 * A waiting job's run started now as `capsFor` would run it: the first period at full power (caps are
 * set on jobs running at a period's start), each later one at the cap of planned power `capKw` (by
 * default the lowest, which `capsFor` picks on the half-idle node for a job with slack to spare), and
 * the last, where
 * capped it could finish (what is left is no more than a capped period's progress), at full power
 * again, since `capsFor` leaves a job that finishes within the period alone. Its £ at the prices
 * (£/MWh per period from now) and how many periods it spans; undefined where it does not finish
 * within the prices.
 */
export const startNowRun = (
  node: GpuNodePower,
  job: Pick<WaitingJob, 'powerKw' | 'remainingKwh'>,
  prices: readonly number[],
  /** The planned power of the cap it runs at (capChoices); absent, the lowest. */
  capKw: number = capFields(node, job.powerKw).minPowerKw,
): { gbp: number; periods: number } | undefined => {
  const h = PERIOD_H;
  const run = cappedRun(node, job.powerKw, capKw);
  let left = job.remainingKwh;
  let gbp = 0;
  for (let t = 0; t < prices.length; t++) {
    const price = prices[t] as number;
    if (t === 0 || !run || left <= run.rateKw * h + 1e-9) {
      const kwh = Math.min(left, job.powerKw * h);
      gbp += (kwh * price) / 1000;
      left -= kwh;
    } else {
      gbp += (run.drawKw * h * price) / 1000;
      left -= run.rateKw * h;
    }
    if (left <= 1e-9) return { gbp, periods: t + 1 };
  }
  return undefined;
};

/**
 * The waiting jobs that start now where a run capped from their second period on costs less at the
 * strategy's prices than the plan's later run at full power (docs/backtest.md, "Capped starts"), and
 * the IT power (kW) they add to the plan per slot from now, for `capsFor`'s room in the same period.
 * The plan sees every job whole, so on a site whose GPUs would idle anyway it defers work to cheaper
 * hours; on the half-idle profile's node a cap does the same work on 0.77 of the energy, and starting
 * now also meets deadlines the plan would miss. A job is started where all of these hold:
 * - the plan starts it later in the horizon (not now: those start anyway) and runs it whole there;
 * - run as `startNowRun` says at the lowest cap, or where that run would reach the period holding its
 *   deadline at the cheapest higher cap whose run does not, it finishes before that period, within
 *   the prices;
 * - that run costs less than the plan's (Σ price × the plan's power);
 * - it fits the GPUs free now, after the plan's own starts and early starts, and the plan has room
 *   for it at full power in every period of that run (its own planned slots given back), together
 *   with the jobs started before it, in submission order.
 * From the next period on `capsFor` caps it where that pays and there is room, as any running job; so
 * the run priced here is the one the rule expects, not one it is sure of.
 */
export const cappedStarts = (i: CappedStartInput): { ids: Set<string>; addedKw: number[] } => {
  const h = PERIOD_H;
  const own = new Map(i.plan.map((j) => [j.id, j.powerKw]));
  const horizon = Math.min(
    i.prices.length,
    i.plan.reduce((n, j) => Math.max(n, j.powerKw.length), 0),
  );
  const load: number[] = [];
  for (let t = 0; t < horizon; t++) load.push(i.plan.reduce((a, x) => a + (x.powerKw[t] ?? 0), 0));
  const addedKw = new Array<number>(horizon).fill(0);
  const ids = new Set<string>();
  let free = i.freeGpus;
  for (const j of i.waiting) {
    const planned = own.get(j.id);
    if (!planned || j.gpus > free || (planned[0] ?? 0) > 1e-9) continue;
    // Planned whole within the horizon: its cost there is known.
    let plannedKwh = 0;
    let plannedGbp = 0;
    for (let t = 0; t < horizon; t++) {
      plannedKwh += (planned[t] ?? 0) * h;
      plannedGbp += ((planned[t] ?? 0) * h * (i.prices[t] as number)) / 1000;
    }
    if (plannedKwh < j.remainingKwh - 1e-6) continue;
    // At the lowest cap, or, where that run would reach the period holding the deadline, the cheapest
    // higher cap whose run finishes before it (worked out only then).
    const prices = i.prices.slice(0, horizon);
    const inTime = (r: { periods: number } | undefined): r is { gbp: number; periods: number } =>
      r !== undefined && i.now + r.periods * PERIOD_MS <= dueBy(j);
    let run = startNowRun(i.node, j, prices);
    if (!inTime(run)) {
      run = undefined;
      for (const c of capChoices(i.node, j.powerKw).slice(1)) {
        const r = startNowRun(i.node, j, prices, c.plannedKw);
        if (inTime(r) && !(r.gbp >= (run?.gbp ?? Infinity))) run = r;
      }
    }
    if (!run || !(run.gbp < plannedGbp)) continue;
    let fits = true;
    for (let s = 0; s < run.periods && fits; s++) fits = load[s]! - (planned[s] ?? 0) + j.powerKw <= i.limitKw + 1e-6;
    if (!fits) continue;
    for (let s = 0; s < horizon; s++) {
      const added = (s < run.periods ? j.powerKw : 0) - (planned[s] ?? 0);
      load[s] = load[s]! + added;
      addedKw[s] = addedKw[s]! + added;
    }
    free -= j.gpus;
    ids.add(j.id);
  }
  return { ids, addedKw };
};
