// The compute agent's own renewal of its grid windows (compute-energy.ts, config `renew`): every
// `everyMinutes` it drops the windows that have ended (market time) and buys one in each of its
// areas that holds none still to end, from its grid agents in order, for the next 24 hours from the
// next slot boundary. A restart buys nothing it holds (the windows are read back from the store);
// a lapsed window is replaced by the best one of the next day.
import type { ComputeBuyer, HeldWindow } from '../beckn/v2/compute-buyer.ts';
import { asFlexError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface RenewPolicy {
  /** The grid agents to buy from, in order: an area none of the first has a window in is asked of the next. */
  readonly gridAgents: readonly string[];
  /** kW bought in each window. */
  readonly kw: number;
  /** How often (wall minutes) it looks for areas whose window has lapsed. */
  readonly everyMinutes: number;
  /** A window asked for starts on a slot boundary of this length (the orchestrator's slots). */
  readonly slotMinutes: number;
}

/** Windows asked for cover the next day from now (DEG compute-energy: a day's windows per area). */
const RENEW_SPAN_MS = 86_400_000;

export interface RenewParts {
  readonly buyer: ComputeBuyer;
  /** The grid areas the agent holds windows in (keys; values are their signal regions). */
  readonly areas: Readonly<Record<string, string>>;
  readonly marketNow: () => number;
  readonly log: Logger;
  /** The composed agent's buyWindows: buys from one grid agent in the areas named and re-plans on them. */
  readonly buyWindows: (
    gridAgentId: string,
    within: { readonly from: number; readonly to: number },
    kw: number,
    areas: readonly string[],
  ) => Promise<HeldWindow[]>;
  /** When a renewal buys nothing: the latest plan's workload shift (plans the orchestrator made on its own). */
  readonly shiftLatest: () => Promise<void>;
}

export interface Renewal {
  /** One renewal now (none without a policy); a call during a renewal joins it. */
  renew(): Promise<HeldWindow[]>;
  /** renew() now and every `everyMinutes` until stop(). */
  start(): void;
  /** Stops the timer, and gives a renewal under way a moment to finish its writes. */
  stop(): Promise<void>;
}

/** A bought window as a log line reads it (UTC times, £/MWh and g/kWh as contracted). */
const windowFacts = (w: HeldWindow) => ({
  area: w.gridArea,
  start: new Date(w.start).toISOString(),
  end: new Date(w.end).toISOString(),
  priceGbpPerMwh: w.priceGbpPerMwh,
  carbonGPerKwh: w.carbonGPerKwh,
});

const renewOnce = async (policy: RenewPolicy, p: RenewParts): Promise<HeldWindow[]> => {
  const b = p.buyer;
  const t = p.marketNow();
  await b.forget(t);
  const covered = new Set(b.held().map((w) => w.gridArea));
  let wanted = Object.keys(p.areas).filter((a) => !covered.has(a));
  // From the next slot boundary, so a window's slots are the plan's.
  const slotMs = policy.slotMinutes * 60_000;
  const from = Math.ceil(t / slotMs) * slotMs;
  const bought: HeldWindow[] = [];
  for (const g of policy.gridAgents) {
    if (wanted.length === 0) break;
    try {
      const got = await p.buyWindows(g, { from, to: from + RENEW_SPAN_MS }, policy.kw, wanted);
      for (const w of got)
        p.log.info({ gridAgent: g, ...windowFacts(w), kw: w.kw, contractId: w.contractId }, 'grid window bought');
      bought.push(...got);
      wanted = wanted.filter((a) => !got.some((w) => w.gridArea === a));
    } catch (e) {
      p.log.warn({ gridAgent: g, areas: wanted, error: asFlexError(e).message }, 'grid windows not bought');
    }
  }
  if (wanted.length > 0) p.log.warn({ areas: wanted }, 'no grid window held in these areas');
  if (bought.length === 0) await p.shiftLatest();
  return bought;
};

export const renewal = (policy: RenewPolicy | undefined, p: RenewParts): Renewal => {
  let renewing: Promise<HeldWindow[]> | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  const renew = (): Promise<HeldWindow[]> => {
    if (!policy) return Promise.resolve([]);
    // One renewal at a time: a timer firing during a slow one joins it instead of buying twice.
    renewing ??= renewOnce(policy, p).finally(() => {
      renewing = undefined;
    });
    return renewing;
  };
  return {
    renew,
    start() {
      if (!policy || timer) return;
      const tick = () =>
        void renew().catch((e: unknown) => p.log.error({ error: asFlexError(e).message }, 'renewal failed'));
      timer = setInterval(tick, policy.everyMinutes * 60_000);
      timer.unref();
      tick();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      // A renewal under way is given a moment to finish its writes; one waiting on a grid agent's
      // callbacks is not waited for (what it would still write is logged as failed).
      if (renewing)
        await Promise.race([renewing.catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
    },
  };
};
