// How `flexlon demo` narrates the market as it happens: each event of the buyer's procurement loop
// and each on_status the provider pushes, as one line stamped with the market time.
import type { MonitorEvent, MonitorPolicy } from '../agents/grid/monitor.ts';
import type { StatusPush } from '../agents/grid/orchestrator.ts';
import type { ProcurementEvent } from '../agents/grid/procurement-loop.ts';
import { penniesAddingUp } from '../domain/decimal.ts';
import { londonOffsetMs, settlementPeriodOf } from '../domain/settlement-day.ts';
import { isoOf } from '../domain/time.ts';

export const hhmm = (t: number): string => isoOf(t).slice(11, 16);

/**
 * A line's market time: UTC, the GB settlement period it falls in (numbered from local midnight,
 * BSC Section X-1), and UK local time when it differs from UTC (BST). `[18:00 SP37]` in winter,
 * `[17:00 SP37 · 18:00 BST]` in summer.
 */
export const stamp = (t: number): string => {
  const off = londonOffsetMs(t);
  return `[${hhmm(t)} SP${settlementPeriodOf(t).period}${off ? ` · ${hhmm(t + off)} BST` : ''}]`;
};

/**
 * A window [from, to) in UTC with the settlement periods it covers and, in summer, UK local time:
 * `18:00–19:00 UTC (SP37–38)` in winter, `18:00–19:00 UTC (SP39–40, 19:00–20:00 BST)` in summer.
 */
export const windowLabel = (from: number, to: number): string => {
  const first = settlementPeriodOf(from).period;
  const last = settlementPeriodOf(to - 1).period;
  const sp = first === last ? `SP${first}` : `SP${first}–${last}`;
  const off = londonOffsetMs(from);
  const offTo = londonOffsetMs(to);
  const zone = (o: number) => (o ? 'BST' : 'GMT');
  // A window across the autumn change starts in BST and ends in GMT: each end names its own.
  const local =
    off || offTo
      ? `, ${hhmm(from + off)}${off === offTo ? '' : ` ${zone(off)}`}–${hhmm(to + offTo)} ${zone(offTo)}`
      : '';
  return `${hhmm(from)}–${hhmm(to)} UTC (${sp}${local})`;
};

/**
 * The demo's narration in market-time order. Lines come from two sources — the buyer's loop and the
 * provider's unasked on_status — and at a slot boundary the push can arrive before the loop's own
 * event for the same moment ("DELIVERING" before "window opens"). Lines are held until a later
 * moment is narrated (or the end), then written sorted by time and, at one time, by rank.
 */
export class Timeline {
  private held: { at: number; rank: number; seq: number; text: string }[] = [];
  private seq = 0;
  constructor(private readonly out: (line: string) => void) {}

  add(at: number, rank: number, lines: readonly string[]): void {
    if (this.held.some((h) => h.at < at)) this.flush((h) => h.at < at);
    for (const text of lines) this.held.push({ at, rank, seq: this.seq++, text });
  }

  /** Writes the held lines (all, or those `which` picks) in order. */
  flush(which: (h: { at: number }) => boolean = () => true): void {
    const out = this.held.filter(which).sort((a, b) => a.at - b.at || a.rank - b.rank || a.seq - b.seq);
    this.held = this.held.filter((h) => !which(h));
    for (const h of out) this.out(h.text);
  }
}
/** Pounds to the penny, the minus before the pound sign: -£1.24 reads as money, £-1.24 as a typo. */
export const money = (n: number): string => {
  const pence = Math.sign(n) * Math.round(Math.abs(n) * 100); // halves away from zero, either sign
  return `${pence < 0 ? '-' : ''}£${(Math.abs(pence) / 100).toFixed(2)}`;
};

/** The line for an on_status the provider sent unasked (delivery started, delivery done). */
export const pushLine = (at: number, push: StatusPush): string =>
  `${stamp(at)} on_status pushed by the provider, unasked: ${push.state ?? 'no state'}${push.settlement ? `, ${push.settlement.deliveredKwh.toFixed(1)} kWh delivered` : ''}`;

/** The lines for one procurement event; `waiting` counts the jobs waiting at the sites now. */
export const eventLines = (
  e: ProcurementEvent,
  waiting: { jobs: number; sites: number; providers?: number },
): string[] => {
  switch (e.kind) {
    case 'need': {
      const n = e.need;
      const why =
        n.kind === 'import-limit'
          ? 'a grid event (network constraint) asks for'
          : 'day-ahead forecast puts the evening peak at';
      return [
        `\n${stamp(e.at)} grid: ${why} ${windowLabel(n.windowStart, n.windowEnd)}; it will ask for up to ${n.wantedKw} kW`,
      ];
    }
    case 'searching':
      return [
        `${stamp(e.at)} grid: ${waiting.jobs} jobs waiting at the site${waiting.sites > 1 ? 's' : ''}; the grid orchestrator searches the network`,
      ];
    case 'no-deal':
      return [`${stamp(e.at)} no flexibility bought: ${e.reason}`];
    case 'bought': {
      const p = e.procurement;
      const o = p.offer;
      const hours = (o.windowEnd - o.windowStart) / 3_600_000;
      const c = o.costComponents && penniesAddingUp(o.costComponents, o.opportunityCostGbp);
      const parts = c
        ? `: energy ${money(c.energyGbp)}, lateness ${money(c.latenessGbp)}` +
          (c.capsGbp !== 0 ? `, GPU caps ${money(c.capsGbp)}` : '') +
          (c.batteryGbp !== 0 ? `, battery wear ${money(c.batteryGbp)}` : '') +
          (c.movesGbp !== 0 ? `, site moves ${money(c.movesGbp)}` : '')
        : '';
      return [
        `${stamp(e.at)} offer (on_search): ${o.reductionKw.toFixed(1)} kW at ${o.site} ${hhmm(o.windowStart)}–${hhmm(o.windowEnd)}, ${money(o.priceGbp)} (${o.priceGbpPerMwh.toFixed(2)} £/MWh; opportunity cost ${money(o.opportunityCostGbp)}${parts})`,
        `${stamp(e.at)} committed (select → init → confirm)${(waiting.providers ?? 1) > 1 ? ` with ${p.bpp.subscriber_id}` : ''}: ${p.selectedKw.toFixed(1)} kW for ${hours} h, ${money(p.quotedGbp)}, order ${p.orderId}, baseline ${p.baselineMethod}${p.offersSeen > 1 ? ` (the offer bought of ${p.offersSeen} seen${p.aboveCeiling ? `, ${p.aboveCeiling.offers} of them above the buyer's ${p.aboveCeiling.gbpPerMwh} £/MWh ceiling` : ''}: the buyer takes what covers its need at least cost, at the £/MWh it expects delivered, each kW left uncovered valued at its ceiling, so a larger offer can beat a cheaper smaller one; the BPP's audit log has them all)` : ''}`,
      ];
    }
    case 'window-open':
      return [`${stamp(e.at)} window opens: deferred jobs wait, site import held down`];
    case 'status':
      return [`${stamp(e.at)} status → on_status: ${e.state ?? 'unknown'}`];
    case 'statement':
      return [
        `${stamp(e.at)} support → on_support: ${e.statement ? `signed settlement statement, ${e.statement.deliveredKwh.toFixed(1)} kWh delivered, payment ${money(e.statement.paymentGbp)}` : 'contact only (no statement yet)'}`,
      ];
    case 'checked': {
      const c = e.check;
      return [
        c.agreed
          ? `${stamp(e.at)} grid: statement checked — agrees (${c.periods} periods and the payment ${money(c.paymentGbp)} recomputed under the terms bought)`
          : `${stamp(e.at)} grid: statement DISPUTED with ${e.procurement.bpp.subscriber_id}: ${c.differences.map((x) => `${x.where} ${x.field} ours ${x.ours} theirs ${x.theirs}`).join('; ')}`,
      ];
    }
    case 'error':
      return [`${stamp(e.at)} grid: procurement step failed: ${e.code} ${e.message}`];
    default: {
      const never: never = e;
      return never;
    }
  }
};

/** The line saying how the buyer follows delivery (`--monitor`, `--top-up`), printed before the day. */
export const monitorPolicyLine = (m: MonitorPolicy): string =>
  `grid orchestrator: delivery monitored while the window runs: status each slot and the provider's pushes; a shortfall beyond ${(m.tolerance * 100).toFixed(0)} % of the energy committed so far is alerted${m.topUp ? ' and topped up from another provider for the rest of the window' : ' (no top-up)'}`;

/**
 * The lines for what delivery monitoring finds (monitor.ts): a shortfall alerted, the top-up bought,
 * or why there was none. Every kWh figure is the periods metered so far, as settlement counts them.
 */
export const monitorLines = (e: MonitorEvent): string[] => {
  const p = e.procurement;
  const order = `${p.bpp.subscriber_id} order ${p.orderId}`;
  switch (e.kind) {
    case 'shortfall': {
      const s = e.shortfall;
      return [
        `${stamp(e.at)} grid: SHORTFALL alerted (${e.source === 'poll' ? 'status poll' : 'on_status pushed'}): ${order} delivered ${s.deliveredKwh.toFixed(1)} kWh of ${s.committedKwh.toFixed(1)} kWh committed over ${s.periods} period${s.periods === 1 ? '' : 's'}, ${s.shortfallKwh.toFixed(1)} kWh short; ${s.missingKw.toFixed(1)} kW missing in ${s.lastPeriod}`,
      ];
    }
    case 'topped-up':
      return e.bought.map(
        (x) =>
          `${stamp(e.at)} grid: topped up for ${order}: ${x.selectedKw.toFixed(1)} kW from ${x.bpp.subscriber_id} at ${x.offer.site} ${hhmm(x.offer.windowStart)}–${hhmm(x.offer.windowEnd)}, ${money(x.quotedGbp)}, order ${x.orderId}`,
      );
    case 'no-top-up':
      return [`${stamp(e.at)} grid: no top-up for ${order}: ${e.reason}`];
    default: {
      const never: never = e;
      return never;
    }
  }
};
