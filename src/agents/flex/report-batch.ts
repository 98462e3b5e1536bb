// One plan for every site's report of a slot (issue 13 item 8). Each agent reports at every slot
// boundary and is answered with its dispatch from a plan of the whole fleet; planned one report at
// a time, S sites cost S fleet plans a slot, each a few hundred milliseconds on a busy fleet. With
// gathering on, the reports of a slot wait for one another — until every configured site has
// reported in that slot, or `gatherMs` of wall time has passed (a site that is down delays the
// others by at most that) — and one plan answers them all. A report that comes when its slot's
// plan is already under way (a re-report after a refused dispatch) starts the next one at once if
// every other site has already reported in the slot. Plans run one at a time, in order.
// Deterministic wherever the sites report concurrently: which reports share a plan then depends
// only on which sites have reported, not on timing.
import type { EpochMs } from '../../domain/time.ts';

export interface ReportBatchOptions<T> {
  /** Every site that reports (the BPP's configured sites). */
  readonly sites: () => readonly string[];
  /** The slot a report made now belongs to. */
  readonly slotNow: () => number;
  /** Longest wait for the other sites' reports (ms of wall time). */
  readonly gatherMs: number;
  /** Plans the fleet with every report stored so far. */
  readonly plan: () => Promise<T>;
}

interface Batch<T> {
  readonly slot: number;
  started: boolean;
  start: () => void;
  readonly result: Promise<T>;
}

export class ReportBatcher<T> {
  private open: Batch<T> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly reportedIn = new Map<string, number>();

  constructor(private readonly o: ReportBatchOptions<T>) {}

  /** The plan that answers a report from `site` just stored. */
  submit(site: string): Promise<T> {
    const slot = this.o.slotNow();
    this.reportedIn.set(site, slot);
    const batch = this.open && !this.open.started && this.open.slot === slot ? this.open : this.newBatch(slot);
    if (this.o.sites().every((s) => this.reportedIn.get(s) === slot)) batch.start();
    return batch.result;
  }

  private newBatch(slot: number): Batch<T> {
    let go!: () => void;
    const gate = new Promise<void>((resolve) => (go = resolve));
    const timer = setTimeout(() => batch.start(), this.o.gatherMs);
    const previous = this.tail;
    const batch: Batch<T> = {
      slot,
      started: false,
      start: () => {
        if (batch.started) return;
        batch.started = true;
        clearTimeout(timer);
        go();
      },
      result: gate.then(async () => {
        await previous.catch(() => undefined);
        return this.o.plan();
      }),
    };
    this.tail = batch.result;
    this.open = batch;
    return batch;
  }
}

/** Slot index of an instant on a slot grid starting at the epoch. */
export const slotIndex = (t: EpochMs, slotMinutes: number): number => Math.floor(t / (slotMinutes * 60_000));
