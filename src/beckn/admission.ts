// Admission by the planner queue (issue 14 finding 3): an ACK promises the callback within the
// request's ttl (core 1.1.1 Context.ttl: the callback is refused after timestamp + ttl), so a BPP
// whose planner is behind must say so before the ACK (503 FLX_BUSY, Retry-After), not ACK and later
// give the callback up. The planner does one plan at a time (one solver worker), so a new request's
// planning ends after everything already queued: the estimate is the work waiting, each kind at its
// measured duration, plus its own.

/** A refusal for load: why, and the whole seconds after which a retry may be admitted. */
export interface Busy {
  readonly reason: string;
  readonly retryAfterSeconds: number;
}

export interface PlanningBacklogOptions {
  /** Time kept for sending the callback once its planning is done (ms). */
  readonly sendMarginMs?: number;
  /** Estimates are multiplied by this (planning times vary with the queues and the fleet's commitments). */
  readonly safetyFactor?: number;
  /** What one unit of a kind is assumed to take until one has been measured (ms). */
  readonly assumedUnitMs?: number;
}

export const DEFAULT_SEND_MARGIN_MS = 1_000;
export const DEFAULT_SAFETY_FACTOR = 1.5;
/**
 * Before the first measurement: a search's offers on the demo's fleet take 0.2–0.5 s on two busy
 * cores (test/resilience/planner-backlog.test.ts prints it), so 1 s is on the safe side of that
 * while still letting a buyer's first few requests in at once.
 */
export const DEFAULT_ASSUMED_UNIT_MS = 1_000;

interface Kind {
  waiting: number;
  /** Smoothed duration of one unit (ms); undefined until one has been measured. */
  meanMs: number | undefined;
  lastMs: number;
}

export class PlanningBacklog {
  private readonly kinds = new Map<string, Kind>();
  private readonly marginMs: number;
  private readonly factor: number;
  private readonly assumedMs: number;

  constructor(o: PlanningBacklogOptions = {}) {
    this.marginMs = o.sendMarginMs ?? DEFAULT_SEND_MARGIN_MS;
    this.factor = o.safetyFactor ?? DEFAULT_SAFETY_FACTOR;
    this.assumedMs = o.assumedUnitMs ?? DEFAULT_ASSUMED_UNIT_MS;
  }

  private kind(name: string): Kind {
    let k = this.kinds.get(name);
    if (!k) {
      k = { waiting: 0, meanMs: undefined, lastMs: 0 };
      this.kinds.set(name, k);
    }
    return k;
  }

  /** One unit of `kind` joins the queue. */
  queued(kind: string, n = 1): void {
    this.kind(kind).waiting += n;
  }

  /** One unit of `kind` left the queue; `durationMs` when it did the planning (not a no-op or a failure). */
  finished(kind: string, durationMs?: number): void {
    const k = this.kind(kind);
    k.waiting = Math.max(0, k.waiting - 1);
    if (durationMs === undefined || !Number.isFinite(durationMs)) return;
    k.meanMs = k.meanMs === undefined ? durationMs : 0.7 * k.meanMs + 0.3 * durationMs;
    k.lastMs = durationMs;
  }

  /** Units waiting or running, all kinds. */
  get waiting(): number {
    let n = 0;
    for (const k of this.kinds.values()) n += k.waiting;
    return n;
  }

  /**
   * A unit's expected duration: the larger of the smoothed and the latest (a slowing planner counts
   * at once); assumedUnitMs until one has been measured.
   */
  private unitMs(k: Kind): number {
    return k.meanMs === undefined ? this.assumedMs : Math.max(k.meanMs, k.lastMs);
  }

  /** How long the work already queued should take (ms). */
  aheadMs(): number {
    let ms = 0;
    for (const k of this.kinds.values()) ms += k.waiting * this.unitMs(k);
    return ms;
  }

  /**
   * Whether a new unit of `kind` admitted at `nowMs` would be planned, and its callback sent, by
   * `deadlineMs`: everything queued, then this one, each at its kind's duration times the safety
   * factor, then the time to send the callback.
   */
  check(kind: string, nowMs: number, deadlineMs: number): Busy | undefined {
    const own = this.unitMs(this.kind(kind));
    const ahead = this.aheadMs();
    const doneAt = nowMs + (ahead + own) * this.factor + this.marginMs;
    if (doneAt <= deadlineMs) return undefined;
    return {
      reason: `the planner's queue (${this.waiting} request(s), about ${Math.ceil((ahead + own) / 1000)} s) would not answer within this message's ttl (${Math.max(0, Math.round((deadlineMs - nowMs) / 1000))} s left)`,
      retryAfterSeconds: Math.max(1, Math.ceil(ahead / 1000)),
    };
  }
}

/**
 * The outbox backlog as admission control sees it: the count the outbox took after its last drain,
 * plus every request ACKed since that drain ended (each owes a callback). The count alone lags by a
 * whole drain: at ~50 callbacks a second a batch of 50 takes a second, and a flood ACKed 1,388
 * searches against a limit of 500 in that time, 260 of whose callbacks then missed their ttl
 * (bench:beckn --loop, docs/benchmarks.md). Counting from the drain's end counts the ACKs made
 * during the recount twice, which errs on the side of refusing.
 */
export class OwedCallbacks {
  private since = 0;

  constructor(
    private readonly outbox: { readonly owed: number },
    private readonly max: number,
  ) {}

  /** A request was ACKed: it owes a callback. */
  acked(): void {
    this.since++;
  }

  /** The outbox finished a drain (it is about to count what it still owes). */
  drained(): void {
    this.since = 0;
  }

  get owed(): number {
    return this.outbox.owed + this.since;
  }

  /** A reason to refuse a new request, when too many callbacks are owed. */
  check(): string | undefined {
    const owed = this.owed;
    return owed > this.max
      ? `${owed} callbacks are still owed (at most ${this.max}); retry in a few seconds`
      : undefined;
  }
}
