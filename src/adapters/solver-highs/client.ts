// Runs HiGHS in a worker thread behind the pure `LpSolve` signature. Solves are queued (HiGHS-WASM
// is single-threaded), each with HiGHS's own time_limit AND a wall-clock deadline after which the
// worker is terminated: HiGHS does not check its time limit in every phase, and a blocked solve
// must never hang the orchestrator. A terminated or aborted worker is replaced on the next solve.
import { Worker } from 'node:worker_threads';
import type { LpModel, LpOptions, LpOutcome, LpSolve } from '../../optimise/lp.ts';
import type { SolveReply, SolveRequest } from './protocol.ts';

export interface HighsClientOptions {
  /** Extra wall time past the solve's time limit before the worker is killed: grace + factor × limit. */
  readonly killGraceSeconds?: number;
  readonly killGraceFactor?: number;
}

export interface HighsStats {
  solves: number;
  kills: number;
  restarts: number;
  /** Largest Wasm heap seen (bytes). */
  peakHeapBytes: number;
}

const ENTRY = new URL('./worker-entry.mjs', import.meta.url);

/**
 * A packing LP shaped like the planner's class LP (columns in one or two capacity rows, bounded,
 * priced), about a sixth of the 10k-job one's columns. V8 runs Wasm first with a quick baseline
 * compiler and recompiles the functions that turn out hot; a one-column LP never gets there, so the
 * first real plan on a fresh worker paid for it: the 10k-job overloaded benchmark's class LP took
 * 0.47–0.53 s on a fresh worker against 0.19–0.25 s on a used one, and 0.24–0.29 s after this
 * warm-up (docs/benchmarks.md). It adds about 0.1 s to the start; its numbers are a fixed
 * pseudo-random sequence.
 */
const warmModel = (cols = 4000, rows = 200): LpModel => {
  let seed = 12_345;
  const next = (): number => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
  const starts = new Int32Array(cols + 1);
  const indices: number[] = [];
  const values: number[] = [];
  const colCost = new Float64Array(cols);
  for (let c = 0; c < cols; c++) {
    const r1 = c % rows;
    const r2 = Math.floor(next() * rows);
    indices.push(Math.min(r1, r2));
    values.push(1);
    if (r2 !== r1) {
      indices.push(Math.max(r1, r2));
      values.push(0.5 + next());
    }
    starts[c + 1] = indices.length;
    colCost[c] = -next();
  }
  return {
    numCols: cols,
    numRows: rows,
    colCost,
    colLower: new Float64Array(cols),
    colUpper: new Float64Array(cols).fill(1),
    rowLower: new Float64Array(rows).fill(Number.NEGATIVE_INFINITY),
    rowUpper: new Float64Array(rows).fill(cols / rows / 2),
    starts,
    indices: Int32Array.from(indices),
    values: Float64Array.from(values),
  };
};

const CLOSED: LpOutcome = { status: 'failed', reason: 'the HiGHS solver was closed', seconds: 0 };

export class HighsClient {
  private worker: Worker | undefined;
  /** Solves waiting for the worker, in arrival order. */
  private readonly waiting: (() => void)[] = [];
  private busy = false;
  /** After close(): no solve starts a worker again (a plan still running falls back without it). */
  private closed = false;
  private nextId = 1;
  readonly stats: HighsStats = { solves: 0, kills: 0, restarts: 0, peakHeapBytes: 0 };

  constructor(private readonly options: HighsClientOptions = {}) {}

  /**
   * The `LpSolve` function for the optimiser; solves run one after another, in arrival order. (Work
   * nobody waits on, the Flexibility Orchestrator's periodic fresh plan, has a client of its own:
   * solver.ts `background`.)
   */
  readonly solve: LpSolve = (model, options) => this.enqueue(model, options);

  private enqueue(model: LpModel, options: LpOptions): Promise<LpOutcome> {
    if (this.closed) return Promise.resolve(CLOSED);
    return new Promise<LpOutcome>((resolve, reject) => {
      this.waiting.push(() => {
        const settle = () => {
          this.busy = false;
          this.pump();
        };
        if (this.closed) {
          settle();
          resolve(CLOSED);
          return;
        }
        let run: Promise<LpOutcome>;
        try {
          run = this.solveNow(model, options);
        } catch (e) {
          settle();
          reject(e);
          return;
        }
        run.then(
          (outcome) => {
            settle();
            resolve(outcome);
          },
          (e: unknown) => {
            settle();
            reject(e);
          },
        );
      });
      this.pump();
    });
  }

  private pump(): void {
    if (this.busy || this.waiting.length === 0) return;
    const next = this.waiting.shift() as () => void;
    this.busy = true;
    next();
  }

  /**
   * Starts the worker, loads the Wasm module and solves a small LP of the planner's shape
   * (warmModel), so that the first plan does not pay for the engine's first, unoptimised pass
   * through the simplex code.
   */
  async warm(): Promise<void> {
    await this.solve(warmModel(), { timeLimitSeconds: 30 });
  }

  /**
   * Ends the worker for good: the solve running fails (its plan falls back as on a crash), those
   * waiting fail at once, and later solves fail without starting a worker. Before, a plan running at
   * close started a new worker for its next solve and held the process open until it finished.
   */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.pump();
  }

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(ENTRY);
    // An idle solver must not keep the process alive; a pending solve holds a timer that does.
    w.unref();
    if (this.stats.solves > 0) this.stats.restarts++;
    this.worker = w;
    return w;
  }

  private kill(w: Worker): void {
    if (this.worker === w) this.worker = undefined;
    void w.terminate();
  }

  private solveNow(model: LpModel, options: LpOptions): Promise<LpOutcome> {
    const w = this.spawn();
    const id = this.nextId++;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const limit = options.timeLimitSeconds;
    const killAfterMs =
      1000 * ((this.options.killGraceSeconds ?? 2) + limit * (1 + (this.options.killGraceFactor ?? 0.5)));
    return new Promise<LpOutcome>((resolve) => {
      const done = (outcome: LpOutcome) => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
        this.stats.solves++;
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        this.stats.kills++;
        this.kill(w);
        done({
          status: 'failed',
          reason: `HiGHS did not return within ${(killAfterMs / 1000).toFixed(1)} s (time limit ${limit} s): worker terminated`,
          seconds: seconds(),
          timedOut: true,
        });
      }, killAfterMs);
      const onMessage = (reply: SolveReply) => {
        if (reply.id !== id) return;
        this.stats.peakHeapBytes = Math.max(this.stats.peakHeapBytes, reply.heapBytes);
        if (reply.dead) this.kill(w);
        done(reply.outcome);
      };
      const onError = (e: Error) => {
        this.kill(w);
        done({ status: 'failed', reason: `HiGHS worker failed: ${e.message}`, seconds: seconds() });
      };
      const onExit = (code: number) => {
        if (this.worker === w) this.worker = undefined;
        done({ status: 'failed', reason: `HiGHS worker exited (code ${code})`, seconds: seconds() });
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      const request: SolveRequest = { id, model, options };
      w.postMessage(request);
    });
  }
}
