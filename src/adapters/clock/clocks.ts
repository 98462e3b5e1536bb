// Clock adapters. Live mode uses the wall clock; a replay maps wall time onto a historical day at a
// fixed speed-up, so the same agents run a day in seconds. Only market time is replayed: Beckn
// signatures and message timestamps always use the wall clock (a signature must be valid now).
import { epochMs, type EpochMs } from '../../domain/time.ts';
import type { Clock } from '../../ports.ts';

const abortError = (): Error => Object.assign(new Error('the wait was aborted'), { name: 'AbortError' });

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export class SystemClock implements Clock {
  now(): EpochMs {
    return epochMs(Date.now());
  }

  async waitUntil(t: EpochMs, signal?: AbortSignal): Promise<void> {
    while (Date.now() < t) await sleep(Math.min(t - Date.now(), 2 ** 31 - 1), signal);
  }
}

/**
 * Market time from `simStart`, running `speed` times faster than the wall clock once started.
 * Until start() it stands still at simStart, so set-up work does not use up market time. Given
 * `wallStart`, it is started then (market = simStart + (wall − wallStart) × speed): separate
 * processes — and a process restarted after a crash — share one replayed market time.
 */
export class ReplayClock implements Clock {
  private wallStart: number | undefined;
  /** While held: the market time it stands at (see hold). */
  private held: EpochMs | undefined;

  constructor(
    private readonly simStart: EpochMs,
    readonly speed: number,
    wallStart?: number,
  ) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new Error('replay speed must be a positive number');
    this.wallStart = wallStart;
  }

  start(): void {
    this.wallStart ??= Date.now();
  }

  get started(): boolean {
    return this.wallStart !== undefined;
  }

  now(): EpochMs {
    if (this.held !== undefined) return this.held;
    return epochMs(this.simStart + (this.wallStart === undefined ? 0 : (Date.now() - this.wallStart) * this.speed));
  }

  /**
   * Stands market time still at `at` (a moment already reached) until release(): a composition in
   * one process uses it so that the work of a slot boundary (every site's report, the buyer's step)
   * happens at that boundary, however long it takes in wall time; without it, on a clock hundreds of
   * times faster than the wall, a second of HTTP and planning is most of a half hour of market time,
   * and what lands in which slot depends on the machine's load.
   */
  hold(at: EpochMs = this.now()): void {
    this.held = at;
  }

  /** Market time runs on from where it was held. */
  release(): void {
    if (this.held === undefined) return;
    if (this.wallStart !== undefined) this.wallStart = Date.now() - (this.held - this.simStart) / this.speed;
    this.held = undefined;
  }

  async waitUntil(t: EpochMs, signal?: AbortSignal): Promise<void> {
    while (this.now() < t)
      await sleep(this.wallStart === undefined || this.held !== undefined ? 50 : (t - this.now()) / this.speed, signal);
  }
}
