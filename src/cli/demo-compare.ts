// The demo's comparison with business as usual: each site's import against its FIFO twin over two
// days at outturn prices and intensity, and the carbon cap's lines of the summary (issue 13 item 7:
// £ and gCO2 against FIFO, and the cap). Split from demo.ts, which runs the day.
import type { Market } from '../compose/market.ts';
import { SLOT_MINUTES } from '../compose/market-roles.ts';
import type { DemoConfig } from '../config.ts';
import { carbonOf, pricesOf } from '../domain/signals.ts';
import { settlementDayStartAfter } from '../domain/settlement-day.ts';
import type { SlotGrid } from '../domain/time.ts';
import { money } from './demo-events.ts';

export interface Savings {
  /** £ and gCO2 FlexLon's day cost less than FIFO's (negative: more). */
  readonly gbp: number;
  readonly gCo2: number;
  /**
   * gCO2 less than FIFO at NESO's forecast intensity, the one the plans and the carbon cap work with
   * (gCo2 is at the actual): the two can differ in sign, which the cap's summary line then explains.
   */
  readonly gCo2AtForecast: number;
  /** Energy cost and emissions of each, over the two days. */
  readonly bauGbp: number;
  readonly flexlonGbp: number;
  readonly bauGCo2: number;
  readonly flexlonGCo2: number;
  readonly bauKwh: number;
  readonly flexlonKwh: number;
  /** GPU-hours of work each ran within the two days (the simulated cluster's work log). */
  readonly bauGpuHours: number;
  readonly flexlonGpuHours: number;
  /**
   * Where FlexLon's site has a battery: its stored energy at the end against the start (kWh) and the
   * grid energy that stands for (kWh; positive: to refill it), counted in flexlonKwh, and in flexlonGbp
   * and flexlonGCo2 at the two days' mean outturn price and intensity, as the backtest counts it
   * (battery-end.ts batteryEndOf).
   */
  readonly battery?: { readonly storedChangeKwh: number; readonly gridKwh: number; readonly gbp: number };
  readonly caveats: readonly string[];
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * £ and gCO2 the day cost less than business as usual, over two days so deferred work is counted:
 * per site (each against its own twin) and in total.
 */
export const compare = async (m: Market): Promise<{ total: Savings; sites: { site: string; savings: Savings }[] }> => {
  // Two settlement days: 96 periods, or 94 or 98 across a clock change.
  const end = settlementDayStartAfter(m.dayStart, 2);
  const grid: SlotGrid = {
    start: m.dayStart,
    slotMinutes: SLOT_MINUTES,
    slots: Math.round((end - m.dayStart) / (SLOT_MINUTES * 60_000)),
  };
  const outturn = await m.signals.outturn('GB', grid);
  const prices = pricesOf(outturn);
  const carbon = carbonOf(outturn, 'actual');
  const forecastCarbon = carbonOf(outturn, 'forecast');
  const h = SLOT_MINUTES / 60;
  const sites: { site: string; savings: Savings }[] = [];
  for (const site of m.sites) {
    if (site.cluster.now < end) site.cluster.advanceTo(end);
    // The twin may have run ahead already (baselines and the carbon cap read it over whole horizons).
    if (site.businessAsUsual.now < end) site.businessAsUsual.advanceTo(end);
    const [actual, bau] = await Promise.all([site.cluster.importKw(grid), site.businessAsUsual.importKw(grid)]);
    // Work within the same two days: the twin's record beyond them is not counted.
    const total = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
    const x = {
      bauGbp: 0,
      flexlonGbp: 0,
      bauGCo2: 0,
      flexlonGCo2: 0,
      bauGCo2AtForecast: 0,
      flexlonGCo2AtForecast: 0,
      bauKwh: 0,
      flexlonKwh: 0,
      bauGpuHours: total(site.businessAsUsual.workGpuHours(grid)),
      flexlonGpuHours: total(site.cluster.workGpuHours(grid)),
    };
    for (let t = 0; t < grid.slots; t++) {
      const bauKwh = (bau[t] ?? 0) * h;
      const flexKwh = (actual[t] ?? 0) * h;
      x.bauGbp += (bauKwh * (prices[t] ?? 0)) / 1000;
      x.flexlonGbp += (flexKwh * (prices[t] ?? 0)) / 1000;
      x.bauGCo2 += bauKwh * (carbon[t] ?? 0);
      x.flexlonGCo2 += flexKwh * (carbon[t] ?? 0);
      x.bauGCo2AtForecast += bauKwh * (forecastCarbon[t] ?? 0);
      x.flexlonGCo2AtForecast += flexKwh * (forecastCarbon[t] ?? 0);
      x.bauKwh += bauKwh;
      x.flexlonKwh += flexKwh;
    }
    // A battery that ends emptier than it began sold energy it never bought within the two days: the
    // grid energy to refill it (the deficit ÷ its round-trip efficiency, losses being on charging) is
    // FlexLon's cost; one that ends fuller is credited what it holds above the start. The FIFO twin
    // has no battery (compose/market.ts).
    const b = site.cluster.battery;
    let battery: Savings['battery'];
    if (b) {
      const change = (await b.stateOfChargeKwh()) - b.initialSocKwh;
      const gridKwh = change < 0 ? -change / b.spec.roundTripEfficiency : -change;
      const gbp = (gridKwh * mean(prices)) / 1000;
      // In the kWh too: the same work on less import is a saving only once the battery is back where it began.
      x.flexlonKwh += gridKwh;
      x.flexlonGbp += gbp;
      x.flexlonGCo2 += gridKwh * mean(carbon);
      x.flexlonGCo2AtForecast += gridKwh * mean(forecastCarbon);
      battery = { storedChangeKwh: change, gridKwh, gbp };
    }
    const { bauGCo2AtForecast, flexlonGCo2AtForecast, ...kept } = x;
    const savings = {
      ...kept,
      gbp: x.bauGbp - x.flexlonGbp,
      gCo2: x.bauGCo2 - x.flexlonGCo2,
      gCo2AtForecast: bauGCo2AtForecast - flexlonGCo2AtForecast,
      ...(battery ? { battery } : {}),
      caveats: [],
    };
    sites.push({ site: site.id, savings });
  }
  const sum = (f: (x: Savings) => number) => sites.reduce((a, x) => a + f(x.savings), 0);
  // Say when the outturn is not all measured data: NESO actuals are missing for some periods (the
  // forecast stands in), and whole gaps are filled (e.g. 2023-10-20 22:00 to 10-22 19:00).
  const noActual = outturn.points.filter((pt) => pt.carbonActual === undefined).length;
  const filledCarbon = (outturn.filled ?? []).filter((f) => f.field === 'carbonForecast').length;
  const filledPrice = (outturn.filled ?? []).filter((f) => f.field === 'price').length;
  const caveats = [
    ...(filledCarbon > 0
      ? [`${filledCarbon} of ${grid.slots} periods have no NESO carbon data at all (values filled in, not measured)`]
      : []),
    ...(noActual - filledCarbon > 0
      ? [`${noActual - filledCarbon} periods have no NESO actual (the forecast stands in)`]
      : []),
    ...(filledPrice > 0 ? [`${filledPrice} periods have no market index price (filled in)`] : []),
  ];
  return {
    total: {
      gbp: sum((x) => x.gbp),
      gCo2: sum((x) => x.gCo2),
      gCo2AtForecast: sum((x) => x.gCo2AtForecast),
      bauGbp: sum((x) => x.bauGbp),
      flexlonGbp: sum((x) => x.flexlonGbp),
      bauGCo2: sum((x) => x.bauGCo2),
      flexlonGCo2: sum((x) => x.flexlonGCo2),
      bauKwh: sum((x) => x.bauKwh),
      flexlonKwh: sum((x) => x.flexlonKwh),
      bauGpuHours: sum((x) => x.bauGpuHours),
      flexlonGpuHours: sum((x) => x.flexlonGpuHours),
      caveats,
    },
    sites,
  };
};

/** The saving against FIFO in words: "£x less energy cost and y kgCO2 less". */
export const savedWords = (s: Savings): string => savingWords(shownGbp(s), shownKg(s));

const savingWords = (gbp: number, kg: number): string => {
  const carbon = kg >= 0 ? `${kg.toFixed(1)} kgCO2 less` : `${(-kg).toFixed(1)} kgCO2 more`;
  const cost = gbp >= 0 ? `${money(gbp)} less energy cost` : `${money(-gbp)} more energy cost`;
  return `${cost} and ${carbon}`;
};

/** Whole pence, halves away from zero, as `money` prints them. */
const pence = (gbp: number): number => Math.sign(gbp) * Math.round(Math.abs(gbp) * 100);

/**
 * The saving as the difference of the two totals printed beside it (sideBySide), so that FIFO's £
 * less FlexLon's £ is the £ saved to the penny on the page (the unrounded difference could print a
 * penny off: £1452.79 − £1418.21 read "£34.57 less").
 */
const shownGbp = (s: Savings): number => (pence(s.bauGbp) - pence(s.flexlonGbp)) / 100;
/** The same for kgCO2, to the tenth printed. */
const shownKg = (s: Savings): number => (Math.round(s.bauGCo2 / 100) - Math.round(s.flexlonGCo2 / 100)) / 10;

/** Both days side by side: "FlexLon £a and b kgCO2, FIFO £c and d kgCO2". */
export const sideBySide = (s: Savings): string =>
  `FlexLon ${money(s.flexlonGbp)} and ${(s.flexlonGCo2 / 1000).toFixed(1)} kgCO2, FIFO ${money(s.bauGbp)} and ${(s.bauGCo2 / 1000).toFixed(1)} kgCO2`;

/**
 * The same two days per GPU-hour of work done (the backtest's measure, docs/backtest.md): the site's
 * whole import (idle pools and inference included) over the training work it ran. When FlexLon leaves
 * work waiting past the two days, its total £ falls with the work not done; this does not (the idle
 * and inference power, about the same for both, then weigh on fewer GPU-hours; what the unfinished
 * work will cost later is in neither).
 */
export const perWorkWords = (s: Savings): string => {
  const per = (gbp: number, g: number, gpuH: number) =>
    gpuH > 0 ? `£${(gbp / gpuH).toFixed(4)} and ${(g / gpuH).toFixed(0)} gCO2` : 'no work';
  const less = s.bauGpuHours > 0 ? (1 - s.flexlonGpuHours / s.bauGpuHours) * 100 : 0;
  const work =
    Math.abs(less) < 0.05
      ? 'the same work'
      : less > 0
        ? `${less.toFixed(1)} % less work done in the two days, the rest still to run`
        : `${(-less).toFixed(1)} % more work done in the two days`;
  return `FlexLon ${per(s.flexlonGbp, s.flexlonGCo2, s.flexlonGpuHours)}, FIFO ${per(s.bauGbp, s.bauGCo2, s.bauGpuHours)} per GPU-hour of work (FlexLon ${s.flexlonGpuHours.toFixed(0)} and FIFO ${s.bauGpuHours.toFixed(0)} GPU-hours: ${work})`;
};

/**
 * The saving on the same work, where the two ran different amounts of it in the two days: FIFO's
 * average £ and gCO2 per GPU-hour (perWorkWords: its whole import, idle and inference pools
 * included) times the GPU-hours FlexLon ran, less FlexLon's own. The headline "vs FIFO" compares
 * totals, so work left waiting past the two days reads as a saving there (a new user found £16 of a
 * £17.94 headline was 0.8 % less work). An average, not a marginal cost: the pools' power does not
 * scale with the work, so where FlexLon ran less this understates its saving a little, and where
 * it ran more, overstates it. None when the work differs by under 0.05 % or 1 GPU-hour, or either
 * ran none.
 */
export const sameWorkWords = (s: Savings): string | undefined => {
  if (s.bauGpuHours <= 0 || s.flexlonGpuHours <= 0) return undefined;
  const ratio = s.flexlonGpuHours / s.bauGpuHours;
  const apart = Math.abs(s.bauGpuHours - s.flexlonGpuHours);
  if (Math.abs(1 - ratio) < 0.0005 || apart < 1) return undefined;
  const gbp = s.bauGbp * ratio - s.flexlonGbp;
  const gCo2 = s.bauGCo2 * ratio - s.flexlonGCo2;
  const head = `${savingWords(gbp, gCo2 / 1000)} than FIFO would have taken for the ${s.flexlonGpuHours.toFixed(0)} GPU-hours FlexLon ran (at FIFO's average £ and gCO2 per GPU-hour)`;
  // What separates this from the headline: FIFO's cost of the work one side ran and the other did not.
  // From the two figures printed, so that they add up on the page.
  const rest = money(Math.abs(shownGbp(s) - pence(gbp) / 100));
  return ratio < 1
    ? `${head}; the other ${rest} of "vs FIFO" is the ${apart.toFixed(0)} GPU-hours FlexLon left to run after the two days`
    : `${head}; "vs FIFO" is ${rest} smaller than this, FIFO's cost of the ${apart.toFixed(0)} GPU-hours FlexLon ran beyond it`;
};

interface PlanCarbon {
  readonly carbonKg?: number;
  readonly carbonCapKg?: number;
  /** The FIFO cap's intensity (g/kWh) and the plan's import for IT (kWh): the plan keeps kg ≤ carbonCapKg + g × kWh. */
  readonly carbonCapGPerKwh?: number;
  readonly itImportKwh?: number;
  /** The FIFO cap a plan could not keep and was made without (FLX_CARBON_CAP_MISSED). */
  readonly carbonCapMissedKg?: number;
}

/** Whether a plan kept its cap (src/optimise/carbon-cap.ts keepsCap, on the audit row's rounded figures). */
const keptCap = (x: PlanCarbon): boolean => {
  const kg = x.carbonKg ?? 0;
  const use = kg - ((x.carbonCapGPerKwh ?? 0) * (x.itImportKwh ?? 0)) / 1000;
  const cap = x.carbonCapKg ?? 0;
  return use <= cap + 1e-6 * Math.max(1, Math.abs(cap), kg);
};

/**
 * The carbon cap's summary lines: what the cap is, how many of the BPP's plans kept within it (from
 * the plan audit records, forecast intensity) and how many could not and were made without it, and
 * the day-ahead plan's figures. None when the operator set no cap.
 */
export const carbonCapLines = async (c: DemoConfig, m: Market, savings?: Savings): Promise<string[]> => {
  if (c.carbonCap === 'none') return [];
  const plans = (await m.stores.flex.auditTrail()).filter((r) => r.kind === 'plan').map((r) => r.payload as PlanCarbon);
  const capped = plans.filter((x) => x.carbonCapKg !== undefined && x.carbonKg !== undefined);
  const within = capped.filter(keptCap).length;
  const missed = plans.filter((x) => x.carbonCapMissedKg !== undefined);
  // src/agents/flex/carbon-cap.ts: kept over the day, not per plan.
  // The FIFO caps read each site's FIFO twin (carbon-cap.ts), with --baseline bl01 too: the agents
  // answer the cap's counterfactual read with the twin, whatever orders are settled on.
  const what =
    c.carbonCap === 'fifo'
      ? "fifo (the default): the day's emissions at most the same queue's on FIFO (each plan's budget: FIFO's emissions from the day's start to the plan's horizon end, less what the sites metered so far; forecast intensity)"
      : c.carbonCap === 'fifo-intensity'
        ? "fifo-intensity: no more CO2 per kWh than the same queues on FIFO (each plan with what the sites metered since the day's start, against FIFO's intensity from then to the plan's horizon end; forecast intensity)"
        : `each plan's emissions at most ${c.carbonCap} kg over its 48 h horizon`;
  const first = capped[0];
  const intensity = (x: PlanCarbon): string =>
    x.itImportKwh && x.itImportKwh > 0
      ? `${(((x.carbonKg ?? 0) / x.itImportKwh) * 1000).toFixed(0)} g/kWh`
      : 'no import';
  const firstWords = !first
    ? ''
    : first.carbonCapGPerKwh === undefined
      ? `; the first plan ${(first.carbonKg ?? 0).toFixed(0)} kg against a cap of ${(first.carbonCapKg ?? 0).toFixed(0)} kg`
      : `; the first plan ${intensity(first)} against FIFO's ${first.carbonCapGPerKwh.toFixed(0)} g/kWh`;
  const missedWords =
    missed.length > 0
      ? `, ${missed.length} could not keep it and ${missed.length === 1 ? 'was' : 'were'} made without it (FLX_CARBON_CAP_MISSED; ${c.carbonCap === 'fifo-intensity' ? 'allowances' : 'budgets'} ${missed.map((x) => (x.carbonCapMissedKg ?? 0).toFixed(0)).join(', ')} kg)`
      : '';
  // The cap is kept on forecast intensity; "vs FIFO" above is at the actual. Where the two disagree
  // in sign, say so, or "more CO2 than FIFO" and "every plan within the cap" read as a contradiction.
  const outturnWords =
    savings && savings.gCo2 < 0 && savings.gCo2AtForecast >= 0
      ? [
          `              at NESO's forecast intensity, which the plans and the cap work with, FlexLon emitted ${(savings.gCo2AtForecast / 1000).toFixed(1)} kg less than FIFO over the two days; at the actual intensity ("vs FIFO" above) ${(-savings.gCo2 / 1000).toFixed(1)} kg more: a plan can keep the cap only on the intensity known when it is made`,
        ]
      : [];
  return [
    `  carbon cap  ${what}: ${within} of ${capped.length + missed.length} plans within it${missedWords}${firstWords}`,
    ...outturnWords,
  ];
};

/**
 * The capacity value's summary line (`--capacity-value SHARE`; docs/cost-model.md, "Capacity value
 * on a full site"): how many of the BPP's plans weighed it, and each site's offered load and value in
 * the last of them, from the plan audit records. None when it is off.
 */
export const capacityValueLines = async (c: DemoConfig, m: Market): Promise<string[]> => {
  if (!(c.capacityValueShare > 0)) return [];
  type Valued = { readonly capacityValue?: Record<string, { offered: number; gbpPerMwhPerHour: number }> };
  const plans = (await m.stores.flex.auditTrail()).filter((r) => r.kind === 'plan').map((r) => r.payload as Valued);
  const valued = plans.filter((x) => x.capacityValue !== undefined);
  const last = valued[valued.length - 1]?.capacityValue;
  const sites = last
    ? `; in the last, ${Object.entries(last)
        .map(
          ([site, v]) =>
            `${site} offered ${(v.offered * 100).toFixed(0)} %, ${v.gbpPerMwhPerHour.toFixed(2)} £/MWh per hour`,
        )
        .join(', ')}`
    : ' (no site was contended: offered load under 60 % of its room)';
  return [
    `  capacity    ${c.capacityValueShare} of an hour of lateness per hour a kWh waits at a contended site: ${valued.length} of ${plans.length} plans weighed it${sites}`,
  ];
};
