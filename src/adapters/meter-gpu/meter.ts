// The GPU meter of a real site (the Meter port): polls every node's GPU power on a wall-clock
// interval, keeps the samples in memory, and answers importKw per slot by integrating them
// (integrate.ts: site kW = (Σ GPU kW + nodes × nonGpuKwPerNode) × PUE, positive = import; a period
// with a node under half covered is NaN). Each settlement period that has ended is also saved as a
// meter reading in the agent's store, so the history outlives the process (and BL01 can use it);
// slots no longer in memory are answered from there. docs/meters.md.
import type { SlotGrid } from '../../domain/time.ts';
import { epochMs, gridEnd, MINUTE_MS, slotStart } from '../../domain/time.ts';
import { asFlexError, FlexError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { Meter, StoreOps } from '../../ports.ts';
import type { MeterReading } from '../../store/records.ts';
import { siteImportKw, siteImportPerSlot, type NodeSample, type SiteModel } from './integrate.ts';
import { NODE_NAME, type GpuPowerSource } from './sources.ts';

export interface GpuMeterOptions {
  readonly site: string;
  readonly nodes: readonly string[];
  readonly source: GpuPowerSource;
  /** Wall-clock ms between polls. */
  readonly intervalMs: number;
  /** Length of the settlement periods saved to the store (30: GB settlement periods). */
  readonly periodMinutes: number;
  readonly nonGpuKwPerNode: number;
  readonly pue: number;
  /** Least covered share of a period for it to be known (default 0.5). */
  readonly minCoverage?: number;
  /** How long samples stay in memory (default 6 h); older slots are answered from the store. */
  readonly retainMs?: number;
  readonly store?: Pick<StoreOps, 'saveMeterReadings' | 'meterReadings'>;
  readonly now?: () => number;
  readonly log?: Logger;
}

export interface NodeStatus {
  readonly lastOkAt?: string;
  readonly lastError?: string;
  readonly gpus?: number;
  readonly gpuW?: number;
}

const DEFAULT_RETAIN_MS = 6 * 3_600_000;

export class GpuMeter implements Meter {
  readonly site: string;
  private readonly samples = new Map<string, NodeSample[]>();
  private readonly status_ = new Map<string, NodeStatus>();
  private readonly model: SiteModel;
  private readonly now: () => number;
  private readonly periodMs: number;
  /** Periods ending at or before this are saved (or were unknown and will not become known). */
  private savedUntil: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: GpuMeterOptions) {
    const bad = (field: string, why: string): never => {
      throw new FlexError('FLX_CONFIG_INVALID', `meter: ${field} ${why}`, { path: `meter.${field}` });
    };
    if (o.nodes.length === 0) bad('nodes', 'must name at least one node');
    for (const n of o.nodes) if (!NODE_NAME.test(n)) bad('nodes', `must be host names, got ${JSON.stringify(n)}`);
    if (new Set(o.nodes).size !== o.nodes.length) bad('nodes', 'must not repeat a node');
    if (!(o.intervalMs >= 100)) bad('intervalSeconds', `must be at least 0.1, got ${o.intervalMs / 1000}`);
    if (!(o.pue >= 1)) bad('pue', `must be ≥ 1, got ${o.pue}`);
    if (!(o.nonGpuKwPerNode >= 0)) bad('nonGpuKwPerNode', `must be ≥ 0, got ${o.nonGpuKwPerNode}`);
    this.site = o.site;
    this.now = o.now ?? Date.now;
    this.periodMs = o.periodMinutes * MINUTE_MS;
    this.model = {
      nonGpuKwPerNode: o.nonGpuKwPerNode,
      pue: o.pue,
      holdMs: 1.5 * o.intervalMs,
      minCoverage: o.minCoverage ?? 0.5,
    };
    for (const n of o.nodes) this.samples.set(n, []);
  }

  /** Polls now and then every intervalMs until stop(). */
  start(): void {
    const loop = async () => {
      const began = this.now();
      // A fault in a poll (not a node's failure, which poll() keeps) is logged; polling goes on.
      this.running = this.poll().catch((e: unknown) =>
        this.o.log?.error({ error: asFlexError(e).message }, 'GPU meter poll failed'),
      );
      await this.running;
      if (this.stopped) return;
      this.timer = setTimeout(() => void loop(), Math.max(0, began + this.o.intervalMs - this.now()));
    };
    void loop();
  }

  /** Stops polling; waits for a poll in flight (and its save). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One poll of every node, then saves the periods that have ended. A node's failure is logged and kept in status(). */
  async poll(): Promise<void> {
    const at = this.now();
    const reads = await this.o.source.read(this.o.nodes);
    for (const r of reads) {
      if (r.ok) {
        const gpuW = r.gpus.reduce((s, g) => s + g.powerDrawW, 0);
        const s = this.samples.get(r.node);
        // Samples stay in time order (the integration relies on it): one from a clock stepped back is dropped.
        if (s && !((s.at(-1)?.at ?? -Infinity) >= at)) s.push({ at, gpuW });
        this.status_.set(r.node, { lastOkAt: new Date(at).toISOString(), gpus: r.gpus.length, gpuW });
      } else {
        const was = this.status_.get(r.node) ?? {};
        const lastError = `${r.error.code}: ${r.error.message}`;
        // Logged when a node starts failing or fails differently, not at every poll.
        if (was.lastError !== lastError)
          this.o.log?.warn({ node: r.node, code: r.error.code, error: r.error.message }, 'GPU meter read failed');
        this.status_.set(r.node, { ...was, lastError });
      }
    }
    const keepFrom = at - (this.o.retainMs ?? DEFAULT_RETAIN_MS);
    for (const [node, s] of this.samples) {
      const k = s.findIndex((x) => x.at >= keepFrom);
      if (k > 0) this.samples.set(node, s.slice(k));
    }
    await this.saveEnded(at);
  }

  /** Saves every period that ended since the last save, where known (an unknown one is not written). */
  private async saveEnded(now: number): Promise<void> {
    const len = this.periodMs;
    const lastEnd = Math.floor(now / len) * len;
    const from = this.savedUntil ?? lastEnd;
    if (!this.o.store || from >= lastEnd) {
      this.savedUntil = Math.max(from, lastEnd);
      return;
    }
    const nodes = [...this.samples.values()];
    const readings: MeterReading[] = [];
    for (let a = from; a < lastEnd; a += len) {
      const importKw = siteImportKw(nodes, a, a + len, this.model);
      if (Number.isFinite(importKw))
        readings.push({
          site: this.site,
          slotStart: epochMs(a),
          slotMinutes: this.o.periodMinutes,
          importKw,
          readAt: now,
          source: this.o.source.name,
        });
    }
    try {
      if (readings.length > 0) await this.o.store.saveMeterReadings(readings);
      this.savedUntil = lastEnd;
    } catch (e) {
      this.o.log?.error(
        { error: asFlexError(e).message },
        'GPU meter readings not saved; trying again after the next poll',
      );
    }
  }

  /** Average import kW per slot: integrated from memory, else the saved reading of that slot, else NaN. */
  async importKw(grid: SlotGrid): Promise<number[]> {
    const out = siteImportPerSlot([...this.samples.values()], grid, this.model);
    if (!this.o.store || out.every(Number.isFinite)) return out;
    const rows = await this.o.store.meterReadings({ site: this.site, from: grid.start, to: gridEnd(grid) });
    const saved = new Map(rows.filter((r) => r.slotMinutes === grid.slotMinutes).map((r) => [r.slotStart, r.importKw]));
    return out.map((v, k) => (Number.isFinite(v) ? v : (saved.get(slotStart(grid, k)) ?? NaN)));
  }

  /** Per node: when it last answered, its GPU count and watts, or its last error (for /health). */
  status(): Record<string, NodeStatus> {
    return Object.fromEntries(this.o.nodes.map((n) => [n, this.status_.get(n) ?? {}]));
  }
}
