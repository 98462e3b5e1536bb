// The demo market's day, replayed: the market clock starts, and at every slot boundary, with market
// time held there (ReplayClock.hold), every site reports and then the buyer's procurement loop
// steps, so a seeded run is repeatable whatever the machine's speed. Ends after the day.
import type { ComputeAgent } from '../agents/compute/agent.ts';
import type { ProcurementLoop } from '../agents/grid/procurement-loop.ts';
import type { ReplayClock } from '../adapters/clock/clocks.ts';
import { settlementDayStartAfter } from '../domain/settlement-day.ts';
import { epochMs, type EpochMs } from '../domain/time.ts';
import { asFlexError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { SLOT_MINUTES } from './market-roles.ts';

/** A site as the day drives it: its id and its agent, which reports at every slot. */
export type ReportingSite = { readonly id: string; readonly agent: Pick<ComputeAgent, 'tick'> };

/**
 * Every site reports for slot `t`. A report the BPP does not answer in time (FLX_PEER_UNREACHABLE: a
 * slow plan on a loaded machine) is logged and the slot carries on, as a site's own agent process
 * does (compose/agent.ts): the agent keeps its last dispatch and reports again at the next slot. Any
 * other failure ends the run.
 */
export const tickSites = async (sites: readonly ReportingSite[], t: EpochMs, log: Logger): Promise<void> => {
  const out = await Promise.allSettled(sites.map((site) => site.agent.tick(t)));
  out.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const e = asFlexError(r.reason);
    if (e.code !== 'FLX_PEER_UNREACHABLE') throw r.reason;
    log.warn(
      { site: sites[i]?.id, error: e.message },
      'site report not answered in time; carrying on at the next slot',
    );
  });
};

/** What a day's replay drives: the clock, the sites' agents and the buyer's loop. */
export interface MarketDay {
  readonly dayStart: EpochMs;
  readonly clock: ReplayClock;
  readonly sites: readonly ReportingSite[];
  readonly loop: Pick<ProcurementLoop, 'plan' | 'step'>;
  readonly log: Logger;
}

export const runDay = async (d: MarketDay, signal: AbortSignal): Promise<void> => {
  const { dayStart, clock, sites, loop, log } = d;
  await loop.plan(dayStart);
  const slot = SLOT_MINUTES * 60_000;
  // The next settlement day's start: 23, 24 or 25 hours on (46, 48 or 50 periods).
  const end = settlementDayStartAfter(dayStart, 1);
  clock.start();
  for (let t = epochMs(Math.ceil(clock.now() / slot) * slot); t <= end; t = epochMs(t + slot)) {
    await clock.waitUntil(t, signal);
    // The slot's work happens at its boundary (ReplayClock.hold): every site reports, then
    // the buyer steps; the last tick is the next day's local midnight, when the buyer's day is over.
    clock.hold(t);
    const held = performance.now();
    try {
      await tickSites(sites, t, log);
      if (t < end) await loop.step(t);
    } finally {
      clock.release();
      // Market time stood still this long: what the replay falls behind the wall by at this slot.
      log.debug({ at: t, heldMs: Math.round(performance.now() - held) }, 'slot worked');
    }
  }
};
