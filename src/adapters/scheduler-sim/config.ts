// Configuration of the simulated cluster, validated once into a complete typed object; a bad value
// fails fast with FLX_CONFIG_INVALID naming the field.
import { FlexError } from '../../errors.ts';
import { A100_SXM_NODE, checkNodePower, nodeIdleKw, nodeMaxKw, type GpuNodePower } from '../../sim/power.ts';

export interface SimClusterConfig {
  readonly site: string;
  /** Grid region (for carbon and price signals). */
  readonly region: string;
  /** Reported to planners; the simulated scheduler itself does not enforce it. */
  readonly gridImportLimitKw: number;
  /** Power usage effectiveness: grid import = IT power × pue (default 1.3). */
  readonly pue?: number;
  /** Nodes that run the queued (deferrable) jobs (default 16). */
  readonly trainingNodes?: number;
  /** GPUs per node, in both pools (default 8). */
  readonly gpusPerNode?: number;
  /** Nodes that serve inference; their power follows the inference profile (default 4). */
  readonly inferenceNodes?: number;
  /** Metering and inference-profile slot length (default 30, the GB settlement period). */
  readonly slotMinutes?: number;
  /** Per-GPU and per-node power (defaults: A100_SXM_NODE). */
  readonly power?: Partial<Omit<GpuNodePower, 'gpusPerNode'>>;
  /**
   * What happens to a deferrable job when it is submitted. `immediate`: it may start at once, as on
   * a plain scheduler. `held`: it waits, held, until someone releases it; this is how a flexibility
   * agent gets to plan a job before it starts (Kueue creates Jobs suspended and admits them; a
   * Slurm job_submit plugin can hold them). Default `immediate`.
   */
  readonly admission?: 'immediate' | 'held';
}

export interface ResolvedSimConfig {
  readonly site: string;
  readonly region: string;
  readonly gridImportLimitKw: number;
  readonly pue: number;
  readonly trainingNodes: number;
  readonly inferenceNodes: number;
  readonly slotMinutes: number;
  readonly power: GpuNodePower;
  readonly totalTrainingGpus: number;
  readonly trainingIdleKw: number;
  readonly inferenceIdleKw: number;
  readonly inferenceMaxKw: number;
  readonly itPowerLimitKw: number;
  readonly admission: 'immediate' | 'held';
}

const fail = (field: string, detail: string): never => {
  throw new FlexError('FLX_CONFIG_INVALID', `simulated cluster: ${field} ${detail}`, { path: field });
};

const positiveInt = (field: string, v: number, allowZero = false): number =>
  Number.isInteger(v) && (allowZero ? v >= 0 : v > 0)
    ? v
    : fail(field, `must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);

export const resolveConfig = (c: SimClusterConfig): ResolvedSimConfig => {
  if (c.site.trim() === '') fail('site', 'must not be empty');
  const pue = c.pue ?? 1.3;
  if (!(pue >= 1 && Number.isFinite(pue))) fail('pue', `must be ≥ 1, got ${pue}`);
  if (!(c.gridImportLimitKw > 0 && Number.isFinite(c.gridImportLimitKw)))
    fail('gridImportLimitKw', `must be > 0, got ${c.gridImportLimitKw}`);
  const trainingNodes = positiveInt('trainingNodes', c.trainingNodes ?? 16);
  const inferenceNodes = positiveInt('inferenceNodes', c.inferenceNodes ?? 4, true);
  const slotMinutes = positiveInt('slotMinutes', c.slotMinutes ?? 30);
  const gpusPerNode = positiveInt('gpusPerNode', c.gpusPerNode ?? A100_SXM_NODE.gpusPerNode);
  let power: GpuNodePower;
  try {
    power = checkNodePower({ ...A100_SXM_NODE, ...c.power, gpusPerNode });
  } catch (e) {
    return fail('power', (e as Error).message);
  }
  const inferenceIdleKw = inferenceNodes * nodeIdleKw(power);
  const inferenceMaxKw = inferenceNodes * nodeMaxKw(power);
  return {
    site: c.site,
    region: c.region,
    gridImportLimitKw: c.gridImportLimitKw,
    pue,
    trainingNodes,
    inferenceNodes,
    slotMinutes,
    power,
    totalTrainingGpus: trainingNodes * gpusPerNode,
    trainingIdleKw: trainingNodes * nodeIdleKw(power),
    inferenceIdleKw,
    inferenceMaxKw,
    itPowerLimitKw: trainingNodes * nodeMaxKw(power) + inferenceMaxKw,
    admission:
      c.admission === 'held'
        ? 'held'
        : c.admission === undefined || c.admission === 'immediate'
          ? 'immediate'
          : fail('admission', `must be "immediate" or "held", got ${String(c.admission)}`),
  };
};

/** Checks an inference profile against the pool it runs on; a value outside [0, pool max] is a fault. */
export const checkInferenceProfile = (profile: readonly number[], cfg: ResolvedSimConfig): readonly number[] => {
  if (profile.length === 0) fail('inferenceKw', 'must have at least one slot');
  profile.forEach((v, i) => {
    if (!(v >= 0 && v <= cfg.inferenceMaxKw + 1e-9))
      fail(`inferenceKw[${i}]`, `must be within 0..${cfg.inferenceMaxKw} kW (the pool's maximum), got ${v}`);
  });
  return profile.slice();
};
