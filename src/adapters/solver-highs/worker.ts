// The HiGHS worker: solves one model at a time with the array (CSC) API. HiGHS-WASM is
// synchronous and single-threaded, so it runs here, off the main event loop; the main thread
// enforces the wall-clock limit by terminating this thread. Every model is disposed after use
// (Wasm memory is not garbage-collected). After an abort (e.g. the 2 GiB heap cap) the instance is
// reported dead and the wrapper replaces the worker.
import { parentPort } from 'node:worker_threads';
import highsModule, { type Highs, type HighsCallbackMap, type Model } from 'highs';
import type { LpModel, LpOptions, LpOutcome } from '../../optimise/lp.ts';
import type { SolveReply, SolveRequest } from './protocol.ts';

let highs: Highs | undefined;

// The package's types describe a CommonJS module; its ESM build exports the loader as default.
type Loader = () => Promise<Highs>;
const highsLoader = ((highsModule as unknown as { default?: Loader }).default ?? highsModule) as unknown as Loader;

const load = async (): Promise<Highs> => (highs ??= await highsLoader());

// HiGHS model status codes (highs.constants.modelStatus): 6 empty model, 7 optimal, 8 infeasible,
// 9 unbounded-or-infeasible, 10 unbounded, 13 time limit, 14 iteration limit.
const EMPTY = 6;
const OPTIMAL = 7;
const INFEASIBLE = 8;
const TIME_LIMIT = 13;
const MIP_INTERRUPT = 6; // highs.constants.callbackType.mipInterrupt
const LIMITS = new Set([11, 12, 13, 14, 16, 17]);

const configure = (m: Model, o: LpOptions, isMip: boolean): void => {
  m.options.set({ output_flag: false, time_limit: Math.max(0.05, o.timeLimitSeconds) });
  if (isMip) m.options.set({ mip_rel_gap: o.mipRelGap ?? 1e-4 });
  // Work limits (repeatable runs): every stop is counted work and the seed is fixed. This Wasm
  // build is single-threaded (it refuses the `threads` option), so no thread timing can vary.
  const w = o.work;
  if (w) {
    m.options.set({ simplex_iteration_limit: w.iterations, ipm_iteration_limit: w.iterations, random_seed: w.seed });
    if (isMip) m.options.set({ mip_max_nodes: w.mipNodes });
  }
};

// HiGHS has no option that bounds a MIP's total LP work (its root node, with cuts and heuristics,
// can take seconds before any node limit applies), so a MIP under work limits is interrupted from
// HiGHS's own MIP checkpoint once its LP iterations reach the limit: a count, and checkpoints at
// fixed points of the search, so the same model stops at the same place on every run.
const mipWorkLimit = (o: LpOptions, isMip: boolean): HighsCallbackMap | undefined => {
  const limit = o.work?.mipLpIterations;
  if (!isMip || limit === undefined) return undefined;
  return {
    [MIP_INTERRUPT]: (event) => {
      if (Number(event.data.mip_total_lp_iterations ?? 0) >= limit) event.interrupt();
    },
  };
};

const info = (m: Model, key: string): number => {
  try {
    return Number(m.info.get(key as Parameters<Model['info']['get']>[0])) || 0;
  } catch {
    return 0; // not every count exists for every kind of model
  }
};

const counts = (m: Model, isMip: boolean): { iterations: number; nodes?: number } =>
  isMip
    ? { iterations: info(m, 'simplex_iteration_count'), nodes: info(m, 'mip_node_count') }
    : { iterations: info(m, 'simplex_iteration_count') };

const solve = (h: Highs, lp: LpModel, o: LpOptions): LpOutcome => {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const isMip = lp.integrality !== undefined;
  const model = h.createModel({
    numCols: lp.numCols,
    numRows: lp.numRows,
    colCost: lp.colCost,
    colLower: lp.colLower,
    colUpper: lp.colUpper,
    rowLower: lp.rowLower,
    rowUpper: lp.rowUpper,
    matrix: {
      format: 'csc',
      numRows: lp.numRows,
      numCols: lp.numCols,
      starts: lp.starts,
      indices: lp.indices,
      values: lp.values,
    },
    ...(lp.integrality ? { integrality: Int32Array.from(lp.integrality) } : {}),
  });
  try {
    configure(model, o, isMip);
    if (isMip && o.start) model.setSolution({ colValue: o.start });
    const status = model.run(mipWorkLimit(o, isMip)).modelStatus;
    // A model with no columns (no jobs, no battery) is trivially solved at x = [].
    if (status === EMPTY)
      return {
        status: 'optimal',
        objective: 0,
        colValue: new Float64Array(lp.numCols),
        ...(isMip ? { dualBound: 0 } : { rowDual: new Float64Array(lp.numRows) }),
        seconds: seconds(),
      };
    if (status === INFEASIBLE) return { status: 'infeasible', seconds: seconds() };
    const hasPrimal = Number(model.info.get('primal_solution_status')) === 2;
    const timedOut = status === TIME_LIMIT ? { timedOut: true } : {};
    if ((status !== OPTIMAL && !LIMITS.has(status)) || !hasPrimal) {
      return {
        status: 'failed',
        reason: `HiGHS stopped with model status ${status}${hasPrimal ? '' : ' and no feasible solution'}`,
        seconds: seconds(),
        ...timedOut,
      };
    }
    const solution = model.getSolution();
    const base = {
      status: status === OPTIMAL ? ('optimal' as const) : ('limit' as const),
      objective: model.getObjectiveValue(),
      colValue: solution.colValue,
      seconds: seconds(),
      ...timedOut,
      ...counts(model, isMip),
    };
    if (isMip) return { ...base, dualBound: Number(model.info.get('mip_dual_bound')) };
    return { ...base, rowDual: solution.rowDual };
  } finally {
    model.dispose();
  }
};

const port = parentPort;
if (!port) throw new Error('the HiGHS worker must run in a worker thread');

port.on('message', (req: SolveRequest) => {
  void (async () => {
    let reply: SolveReply;
    try {
      const h = await load();
      const outcome = solve(h, req.model, req.options);
      reply = { id: req.id, outcome, heapBytes: h.memoryBytes };
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      // A Wasm RuntimeError (Aborted(), out of memory) leaves the instance unusable.
      const dead = (e as Error | undefined)?.name === 'RuntimeError' || /Aborted|memory/i.test(message);
      reply = {
        id: req.id,
        outcome: { status: 'failed', reason: `HiGHS failed: ${message}`, seconds: 0 },
        heapBytes: highs?.memoryBytes ?? 0,
        dead,
      };
    }
    const transfer: ArrayBuffer[] = [];
    if (reply.outcome.status === 'optimal' || reply.outcome.status === 'limit') {
      transfer.push(reply.outcome.colValue.buffer as ArrayBuffer);
      if (reply.outcome.rowDual) transfer.push(reply.outcome.rowDual.buffer as ArrayBuffer);
    }
    port.postMessage(reply, transfer);
  })();
});
