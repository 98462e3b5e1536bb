// A linear (or mixed-integer) program in the array form solvers take: column-wise sparse (CSC)
// matrix, bounds on columns and rows, minimise colCost·x. The optimiser builds these purely; an
// adapter (src/adapters/solver-highs) solves them in a worker thread behind `LpSolve`.

export interface LpModel {
  readonly numCols: number;
  readonly numRows: number;
  readonly colCost: Float64Array;
  readonly colLower: Float64Array;
  readonly colUpper: Float64Array;
  readonly rowLower: Float64Array;
  readonly rowUpper: Float64Array;
  /** CSC: column j's entries are indices/values[starts[j] .. starts[j+1]). */
  readonly starts: Int32Array;
  readonly indices: Int32Array;
  readonly values: Float64Array;
  /** 1 marks an integer column; absent means a pure LP. */
  readonly integrality?: Uint8Array;
}

/**
 * Work limits for one solve (repeatable runs): with them the solve stops on counted work, never on
 * the clock, so the same model gives the same answer on any machine and under any load. The time
 * limit then only guards against a solve that never ends (a safety cap; `timedOut` says it fired).
 */
export interface LpWorkLimits {
  /** Simplex (and interior-point) iterations of an LP. */
  readonly iterations: number;
  /** LP iterations of a MIP, all its relaxations together (checked at the solver's MIP checkpoints). */
  readonly mipLpIterations: number;
  /** Branch-and-bound nodes (MIP only). */
  readonly mipNodes: number;
  /** The solver's random seed (its tie-breaking and heuristics). */
  readonly seed: number;
}

export interface LpOptions {
  readonly timeLimitSeconds: number;
  /** Stop on work, not time (see LpWorkLimits); the time limit stays as the safety cap. */
  readonly work?: LpWorkLimits;
  /** Relative MIP gap at which the solver may stop (MIP only). */
  readonly mipRelGap?: number;
  /** A feasible point to start a MIP from. */
  readonly start?: Float64Array;
}

export type LpOutcome =
  | {
      /** `optimal`: proven within the solver's tolerances; `limit`: stopped by a time or work limit with a solution in hand. */
      readonly status: 'optimal' | 'limit';
      readonly objective: number;
      readonly colValue: Float64Array;
      /** Row duals (LP only): used to prove a lower bound independently of the solver's claims. */
      readonly rowDual?: Float64Array;
      /** The MIP's proven dual bound (MIP only). */
      readonly dualBound?: number;
      readonly seconds: number;
      /** True when the stop was the time limit (with work limits: the safety cap fired). */
      readonly timedOut?: boolean;
      /** Work done, as the solver counts it: simplex iterations (all LPs of a MIP) and MIP nodes. */
      readonly iterations?: number;
      readonly nodes?: number;
    }
  | { readonly status: 'infeasible'; readonly seconds: number }
  /** No usable answer: time limit without a solution, a crash, or the worker was killed. */
  | { readonly status: 'failed'; readonly reason: string; readonly seconds: number; readonly timedOut?: boolean };

export type LpSolve = (model: LpModel, options: LpOptions) => Promise<LpOutcome>;

export const INF = Number.POSITIVE_INFINITY;

/**
 * Builds a model column by column. Rows are declared first (their bounds), then each column lists
 * its (row, coefficient) entries. Arrays grow geometrically, so 10⁶ nonzeros cost no re-copying.
 */
export class LpBuilder {
  private cost: number[] = [];
  private lower: number[] = [];
  private upper: number[] = [];
  private readonly rowLo: number[] = [];
  private readonly rowUp: number[] = [];
  private starts: number[] = [0];
  private idx: number[] = [];
  private val: number[] = [];
  private ints: number[] = [];

  get numCols(): number {
    return this.cost.length;
  }
  get numRows(): number {
    return this.rowLo.length;
  }

  /** Adds a row lower ≤ a·x ≤ upper and returns its index. */
  row(lower: number, upper: number): number {
    this.rowLo.push(lower);
    this.rowUp.push(upper);
    return this.rowLo.length - 1;
  }

  setRowBounds(i: number, lower: number, upper: number): void {
    this.rowLo[i] = lower;
    this.rowUp[i] = upper;
  }

  /** Adds a column; `rows` and `coefs` are parallel; zero coefficients are skipped. */
  col(
    cost: number,
    lower: number,
    upper: number,
    rows: readonly number[],
    coefs: readonly number[],
    integer = false,
  ): number {
    this.cost.push(cost);
    this.lower.push(lower);
    this.upper.push(upper);
    for (let k = 0; k < rows.length; k++) {
      const v = coefs[k] ?? 0;
      if (v !== 0) {
        this.idx.push(rows[k] as number);
        this.val.push(v);
      }
    }
    this.starts.push(this.idx.length);
    if (integer) this.ints.push(this.cost.length - 1);
    return this.cost.length - 1;
  }

  build(): LpModel {
    const numCols = this.cost.length;
    const model: LpModel = {
      numCols,
      numRows: this.rowLo.length,
      colCost: Float64Array.from(this.cost),
      colLower: Float64Array.from(this.lower),
      colUpper: Float64Array.from(this.upper),
      rowLower: Float64Array.from(this.rowLo),
      rowUpper: Float64Array.from(this.rowUp),
      starts: Int32Array.from(this.starts),
      indices: Int32Array.from(this.idx),
      values: Float64Array.from(this.val),
    };
    if (this.ints.length === 0) return model;
    const integrality = new Uint8Array(numCols);
    for (const j of this.ints) integrality[j] = 1;
    return { ...model, integrality };
  }
}

/**
 * A lower bound on min{c·x : rowLower ≤ Ax ≤ rowUpper, colLower ≤ x ≤ colUpper} that holds for ANY
 * row multipliers y (Lagrangian duality), so it does not depend on the solver having converged:
 *   L(y) = Σ_i (y_i > 0 ? y_i·rowLower_i : y_i·rowUpper_i) + Σ_j min over [l_j, u_j] of (c_j − (Aᵀy)_j)·x_j.
 * A multiplier whose row side is infinite is dropped (set to 0). Both sign conventions are tried,
 * since solvers differ; the larger bound is returned (both are valid). `rowLower`/`rowUpper` may
 * differ from the model's, to bound a problem whose rows were tightened for the primal solve.
 */
export const lagrangianBound = (
  m: LpModel,
  rowDual: Float64Array,
  rowLower = m.rowLower,
  rowUpper = m.rowUpper,
): number => {
  const one = (sign: 1 | -1): number => {
    const y = new Float64Array(m.numRows);
    let bound = 0;
    for (let i = 0; i < m.numRows; i++) {
      const v = sign * (rowDual[i] ?? 0);
      const lo = rowLower[i] as number;
      const up = rowUpper[i] as number;
      if (v > 0 && Number.isFinite(lo)) {
        y[i] = v;
        bound += v * lo;
      } else if (v < 0 && Number.isFinite(up)) {
        y[i] = v;
        bound += v * up;
      }
    }
    for (let j = 0; j < m.numCols; j++) {
      let d = m.colCost[j] as number;
      for (let k = m.starts[j] as number; k < (m.starts[j + 1] as number); k++)
        d -= (y[m.indices[k] as number] as number) * (m.values[k] as number);
      const x = d >= 0 ? (m.colLower[j] as number) : (m.colUpper[j] as number);
      if (d !== 0 && !Number.isFinite(x)) return Number.NEGATIVE_INFINITY;
      if (d !== 0) bound += d * x;
    }
    return bound;
  };
  return Math.max(one(1), one(-1));
};
