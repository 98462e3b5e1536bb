// The summary `flexlon demo` prints after the day (docs/architecture.md, "The demo's data flow",
// step 6): the deal, each settlement period and the payment, each site's part, the day against the
// same queue on FIFO, the carbon cap, the audit chains and, with --meter-out, the meter files. Split
// from demo.ts, which parses the options and runs the day.
import type { Procurement } from '../agents/grid/orchestrator.ts';
import type { DayOutcome } from '../agents/grid/procurement-loop.ts';
import type { Market } from '../compose/market.ts';
import type { DemoConfig } from '../config.ts';
import type { SiteSettlement } from '../settlement/codec.ts';
import type { SettlementSummary } from '../settlement/delivered.ts';
import { factorText } from '../settlement/product.ts';
import type { Output } from './command.ts';
import {
  capacityValueLines,
  carbonCapLines,
  perWorkWords,
  sameWorkWords,
  savedWords,
  sideBySide,
  type Savings,
} from './demo-compare.ts';
import { money, stamp, windowLabel } from './demo-events.ts';
import { writeMeterFiles } from './demo-meter-out.ts';

/** A site behind the BPP: its part of the order's settlement (none if it had no part) and its savings. */
export interface SiteOutcome {
  readonly site: string;
  readonly settlement: SiteSettlement | undefined;
  readonly savings: Savings;
}

/** One store's audit trail, its hash chain checked. */
export interface AuditCheck {
  readonly store: string;
  readonly records: number;
  readonly ok: boolean;
}

/** What the summary reports: the day the buyer bought in, its deal and settlement, and the comparison. */
export interface SummaryInput {
  readonly config: DemoConfig;
  readonly market: Market;
  readonly day: DayOutcome;
  readonly procurement: Procurement;
  readonly settlement: SettlementSummary;
  /** Over every site. */
  readonly savings: Savings;
  readonly sites: readonly SiteOutcome[];
  readonly audit: readonly AuditCheck[];
  /** --meter-out: the folder for the meter files. */
  readonly meterOut?: string;
}

const kw1 = (x: number) => `${x.toFixed(1)} kW`;

/** The window's length in hours. */
const windowHours = (p: Procurement): number => (p.offer.windowEnd - p.offer.windowStart) / 3_600_000;

/** The offer and the commitment; a need split across providers (issue 16): every part, its provider and its signed statement. */
const dealLines = ({ day, procurement: p }: SummaryInput): string[] => {
  const out = [
    `  offer       ${kw1(p.offer.reductionKw)} reduction at ${p.offer.site} (${p.offer.region}), ${windowLabel(p.offer.windowStart, p.offer.windowEnd)}, ${money(p.offer.priceGbp)}`,
    `  committed   ${kw1(p.selectedKw)}, ${windowLabel(p.offer.windowStart, p.offer.windowEnd)}, ${money(p.quotedGbp)}`,
  ];
  if (day.parts.length > 1) {
    const bought = day.parts.reduce((a, x) => a + x.procurement.selectedKw, 0);
    out.push(
      `  providers   the need (${kw1(day.need?.wantedKw ?? 0)}) was split across ${day.parts.length} providers, ${kw1(bought)} bought in all; the periods below are the first part's:`,
    );
    for (const x of day.parts)
      out.push(
        `    ${x.procurement.bpp.subscriber_id}  ${kw1(x.procurement.selectedKw)} at ${x.procurement.offer.site} for ${money(x.procurement.quotedGbp)}; ${x.state ?? 'no status'}${x.statement ? `, delivered ${x.statement.deliveredKwh.toFixed(1)} kWh of ${x.statement.committedKwh.toFixed(1)} committed, payment ${money(x.statement.paymentGbp)}` : ''}`,
      );
  }
  return out;
};

/** Two decimals where one would print a shortfall as "18.4 of 18.4" (each period is settled on its own). */
const kwhPair = (d: number, c: number): string => {
  const n = d.toFixed(1) === c.toFixed(1) && Math.abs(d - c) >= 0.005 ? 2 : 1;
  return `${d.toFixed(n)} kWh of ${c.toFixed(n)} kWh committed`;
};

/** A share paid on that is not a whole percentage gets a decimal: 99.9 %, not 100 %. */
const pct = (x: number): string =>
  Math.abs(x * 100 - Math.round(x * 100)) < 0.05 ? (x * 100).toFixed(0) : (x * 100).toFixed(1);

/** Each settlement period, what was delivered in all and what it was paid (exported for its test). */
export const deliveryLines = ({ procurement: p, settlement, sites }: SummaryInput): string[] => {
  const out = [
    `  periods     delivered = (baseline − metered) × 0.5 h, per settlement period; baseline ${settlement.baselineMethod}`,
  ];
  const t = settlement.terms;
  const limit = t?.measurement === 'import-limit' ? t.importLimitKw : undefined;
  for (const per of settlement.periods)
    out.push(
      `  ${stamp(per.start).slice(1, -1).padEnd(10)}  baseline ${kw1(per.baselineKw)} − metered ${kw1(per.meteredKw)} → ` +
        (limit === undefined
          ? `delivered ${kwhPair(per.deliveredKwh, per.committedKwh)}`
          : `import ${(per.exceedanceKwh ?? 0) > 0 ? `above the ${limit} kW limit by ${kw1((per.exceedanceKwh ?? 0) / 0.5)}` : `at or below the ${limit} kW limit`} (reduction ${per.deliveredKwh.toFixed(1)} kWh)`),
    );
  const share = settlement.committedKwh > 0 ? (settlement.deliveredKwh / settlement.committedKwh) * 100 : 0;
  // An import-limit product is measured as import against the limit, never as a percentage of a reduction.
  if (t && limit !== undefined)
    out.push(
      `  delivered   import within the ${limit} kW limit for ${(settlement.performance * 100).toFixed(1)} % of the window's allowance (product ${t.product}); performance factor ${factorText(t.performanceFactor)} (${t.performanceRule}): payment ${money(settlement.paymentGbp)} = (availability ${money(t.availabilityGbp)} + utilisation ${money(t.utilisationGbp)}) × ${factorText(t.performanceFactor)}`,
    );
  else if (t)
    out.push(
      `  delivered   ${kwhPair(settlement.deliveredKwh, settlement.committedKwh)} (${share.toFixed(0)} %; product ${t.product}, performance factor ${factorText(t.performanceFactor)} by ${t.performanceRule}): payment ${money(settlement.paymentGbp)} = (availability ${money(t.availabilityGbp)} + utilisation ${money(t.utilisationGbp)}) × ${factorText(t.performanceFactor)}`,
    );
  else
    out.push(
      `  delivered   ${kwhPair(settlement.deliveredKwh, settlement.committedKwh)} (${share.toFixed(0)} %; paid on ${pct(settlement.performance)} %, each period capped at 100 %): payment ${money(settlement.paymentGbp)}`,
    );
  // Far more than committed is not a metering fault: the baseline is the same queue on FIFO, which
  // runs through the evening peak, while FlexLon's plan moves work out of it on price alone. The
  // reduction beyond the commitment would have happened without the order, and is not paid for.
  // The order's sites: one site's offer is settled at that site alone, whatever the fleet.
  const several = p.offer.site === 'portfolio' && sites.length > 1;
  // The baseline the periods were settled against: the FIFO twin, or BL01 (usual import by period).
  const fifo = /FIFO/i.test(settlement.baselineMethod);
  const baseline = fifo ? 'FIFO baseline' : `${settlement.baselineMethod} baseline`;
  const cause = fifo
    ? "FlexLon's plan moves work out of the dear evening peak on price alone"
    : `the ${settlement.baselineMethod} baseline is the site's usual import in these periods, and FlexLon's plan moves work out of the dear evening peak on price alone`;
  // Each period is settled on its own: a window delivered beyond its total can still have a period
  // short of its part, which "paid on" already counts; say which, or the why reads as no shortfall.
  const short = settlement.periods.filter((x) => x.deliveredKwh < x.committedKwh - 0.005);
  const shortWords =
    short.length === 0
      ? ''
      : `; ${short.map((x) => `${stamp(x.start).slice(1, -1)} fell short (${kwhPair(x.deliveredKwh, x.committedKwh)})`).join(', ')}, which the pay counts`;
  if (share > 120 && limit === undefined)
    out.push(
      `  why ${share.toFixed(0)} %  ${several ? 'the sites' : 'the site'} stayed a further ${kw1((settlement.deliveredKwh - settlement.committedKwh) / windowHours(p))} below ${several ? 'their' : 'its'} ${baseline} than committed over the window: ${cause}; only the committed reduction is sold and paid${shortWords}`,
    );
  return out;
};

/** Whether a site battery ended away from its start: its refill (or credit) is then in FlexLon's kWh, £ and CO2 (demo-compare.ts). */
const refilled = (s: Savings): boolean => Math.abs(s.battery?.storedChangeKwh ?? 0) >= 0.05;

/** With several sites: how the order was split, and each site's part and savings against its own FIFO twin. */
const siteLines = ({ procurement: p, sites }: SummaryInput): string[] => {
  if (sites.length <= 1) return [];
  const out = [
    `  sites       ${p.offer.site === 'portfolio' ? 'the order split across the sites by the optimiser, settled per site' : `the order was for one site's offer (${p.offer.site})`}; each site against its own FIFO twin:`,
  ];
  for (const x of sites) {
    const part = x.settlement
      ? `committed ${x.settlement.committedKwh.toFixed(1)} kWh (${kw1(x.settlement.committedKwh / windowHours(p))}), delivered ${x.settlement.deliveredKwh.toFixed(1)} kWh, payment ${money(x.settlement.paymentGbp)}`
      : 'no part in the order';
    out.push(
      `    ${x.site.padEnd(9)} ${part}; vs FIFO ${savedWords(x.savings)} (import FIFO ${x.savings.bauKwh.toFixed(0)} kWh, FlexLon ${x.savings.flexlonKwh.toFixed(0)} kWh${refilled(x.savings) ? ' with its battery refilled' : ''}; GPU-hours of work FIFO ${x.savings.bauGpuHours.toFixed(0)}, FlexLon ${x.savings.flexlonGpuHours.toFixed(0)})`,
    );
  }
  return out;
};

/** The day's £, CO2 and energy against the same queue on a plain FIFO scheduler. */
const fifoLines = ({ savings, sites }: SummaryInput): string[] => {
  const scope = sites.length > 1 ? `the same queues (all ${sites.length} sites)` : 'the same queue';
  const out = [
    `  vs FIFO     ${savedWords(savings)} than ${scope} on a plain FIFO scheduler (FIFO ${savings.bauKwh.toFixed(0)} kWh, FlexLon ${savings.flexlonKwh.toFixed(0)} kWh${refilled(savings) || sites.some((x) => refilled(x.savings)) ? ' with the batteries refilled' : ''} over two days, outturn prices and intensity)`,
    `              ${sideBySide(savings)}`,
    `  per work    ${perWorkWords(savings)}`,
  ];
  const same = sameWorkWords(savings);
  if (same) out.push(`  same work   ${same}`);
  // On a full fleet some work may still be waiting at the end of the two days (its lateness is
  // costed in the plan): then FlexLon imported less than FIFO, and the £ and CO2 above include that.
  const short = savings.bauKwh - savings.flexlonKwh;
  if (short > 0.01 * savings.bauKwh)
    out.push(
      `  unfinished  ${short.toFixed(0)} kWh less imported than FIFO over the two days: work still waiting at the end (late, its lateness costed in the plan), so part of the saving is work not yet done; per work divides by the work each ran`,
    );
  // A site battery that ends emptier than it began: its refill is in FlexLon's kWh, £ and CO2 above
  // (demo-compare.ts), not a saving.
  for (const x of sites.length > 0 ? sites : [{ site: 'the site', savings }]) {
    const b = x.savings.battery;
    if (!b || !refilled(x.savings)) continue;
    out.push(
      b.storedChangeKwh < 0
        ? `  battery     ${x.site}'s battery ended ${(-b.storedChangeKwh).toFixed(1)} kWh below its start: the ${b.gridKwh.toFixed(1)} kWh to refill it (${money(b.gbp)} at the two days' mean price) is counted in FlexLon's kWh, £ and CO2 above`
        : `  battery     ${x.site}'s battery ended ${b.storedChangeKwh.toFixed(1)} kWh above its start: worth ${money(-b.gbp)} at the two days' mean price, credited in FlexLon's kWh, £ and CO2 above`,
    );
  }
  return out;
};

/** Prints the run folder and the summary; with --meter-out, writes the meter files and says how to settle from them. */
export const printSummary = async (io: Output, s: SummaryInput): Promise<void> => {
  io.out(`\nrun folder: ${s.market.runDir}`);
  io.out('\nSummary');
  for (const line of [...dealLines(s), ...deliveryLines(s), ...siteLines(s), ...fifoLines(s)]) io.out(line);
  for (const line of await carbonCapLines(s.config, s.market, s.savings)) io.out(line);
  for (const line of await capacityValueLines(s.config, s.market)) io.out(line);
  for (const caveat of s.savings.caveats) io.out(`  data note   ${caveat}`);
  io.out('  audit       every message in and out, plan, dispatch and meter reading, hash-chained:');
  for (const a of s.audit)
    io.out(`                ${a.ok ? 'intact' : 'BROKEN'} ${String(a.records).padStart(4)} records  ${a.store}`);
  // The meters as real-format files, to settle the day by hand (issue 17, demo-meter-out.ts).
  if (s.meterOut)
    for (const line of await writeMeterFiles(s.market, s.config, s.procurement, s.meterOut)) io.out(`  ${line}`);
};
