// What FlexLon has capped, kept in a file (powerCaps.stateFile) so that an agent restarted while
// jobs are capped still knows which GPUs to put back, and to what. Written whole to a temporary
// file and renamed over the old one, so a crash mid-write leaves the previous state, never half.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { FlexError } from '../../errors.ts';

export interface CappedGpu {
  readonly node: string;
  readonly index: number;
  /** The limit before FlexLon first capped this GPU for this job: what `null` and the job's end restore. */
  readonly previousW: number;
  readonly minW: number;
  readonly defaultW: number;
  readonly capW: number;
}

export interface AppliedCap {
  readonly slurmJobId: number;
  gpus: CappedGpu[];
}

export interface CapState {
  readonly applied: Map<string, AppliedCap>;
  /** Caps of waiting jobs, W per GPU, applied when they start. */
  readonly pending: Map<string, number>;
}

const VERSION = 1;

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isGpu = (g: unknown): g is CappedGpu => {
  const o = g as Record<string, unknown>;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.node === 'string' &&
    ['index', 'previousW', 'minW', 'defaultW', 'capW'].every((k) => isNum(o[k]))
  );
};

/** The saved state, or an empty one where there is no file yet; a file that is not FlexLon's state stops the agent. */
export const loadCaps = (file: string | undefined): CapState => {
  const state: CapState = { applied: new Map(), pending: new Map() };
  if (file === undefined || !existsSync(file)) return state;
  const bad = (why: string): never => {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `slurm: powerCaps.stateFile ${file} ${why}; move it aside only after restoring the GPU limits it lists`,
      { path: 'powerCaps.stateFile' },
    );
  };
  let doc: { version?: unknown; applied?: Record<string, unknown>; pending?: Record<string, unknown> };
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as typeof doc;
  } catch (e) {
    return bad(`could not be read as JSON (${(e as Error).message})`);
  }
  if (doc.version !== VERSION) bad(`is not version ${VERSION} of FlexLon's power-cap state`);
  for (const [id, rec] of Object.entries(doc.applied ?? {})) {
    const r = rec as { slurmJobId?: unknown; gpus?: unknown };
    if (!isNum(r?.slurmJobId) || !Array.isArray(r.gpus) || !r.gpus.every(isGpu)) bad(`has a malformed entry for ${id}`);
    state.applied.set(id, { slurmJobId: r.slurmJobId as number, gpus: r.gpus as CappedGpu[] });
  }
  for (const [id, w] of Object.entries(doc.pending ?? {})) {
    if (!isNum(w)) bad(`has a malformed cap for ${id}`);
    state.pending.set(id, w as number);
  }
  return state;
};

/** Writes the state; throws the file system's error (the caller logs it: the caps themselves stand). */
export const saveCaps = (file: string, state: CapState): void => {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(
    tmp,
    `${JSON.stringify({
      version: VERSION,
      applied: Object.fromEntries(state.applied),
      pending: Object.fromEntries(state.pending),
    })}\n`,
  );
  renameSync(tmp, file);
};
