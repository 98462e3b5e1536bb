// Messages between the HiGHS wrapper (main thread) and its worker thread. Arrays travel as typed
// arrays whose buffers are transferred, not copied.
import type { LpModel, LpOptions, LpOutcome } from '../../optimise/lp.ts';

export interface SolveRequest {
  readonly id: number;
  readonly model: LpModel;
  readonly options: LpOptions;
}

export interface SolveReply {
  readonly id: number;
  readonly outcome: LpOutcome;
  /** The Wasm heap's size after the solve (bytes), for memory reporting. */
  readonly heapBytes: number;
  /** True when HiGHS aborted: the worker's Wasm instance must not be used again. */
  readonly dead?: boolean;
}
