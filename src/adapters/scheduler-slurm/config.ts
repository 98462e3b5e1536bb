// Configuration of the Slurm adapter, validated once into a complete typed object; a bad value
// fails fast with FLX_CONFIG_INVALID naming the field.
import { DEFAULT_QUEUE_POLICY, type QueuePolicy } from '../../domain/job-metadata.ts';
import { FlexError } from '../../errors.ts';

/** The token FlexLon writes into a job's AdminComment when it holds the job (job_submit.lua writes the same). */
export const HOLD_MARK = 'flexlon:held';

export interface SlurmConfig {
  /** FlexLon site id of this cluster. */
  readonly site: string;
  /** Path of slurm.conf, passed to the client commands as SLURM_CONF. */
  readonly slurmConf?: string;
  /** Directory of squeue, scontrol, sbatch, scancel (default: found on PATH). */
  readonly binDir?: string;
  /** How long one command may take before the controller counts as unreachable (default 10 000 ms). */
  readonly timeoutMs?: number;
  /** Partitions FlexLon manages, with the defaults for their jobs. Jobs of other partitions are reported as inflexible and never touched. */
  readonly partitions: Readonly<Record<string, Partial<QueuePolicy>>>;
  /** Per-QoS overrides, applied over the partition's policy. */
  readonly qos?: Readonly<Record<string, Partial<QueuePolicy>>>;
  /**
   * Opt-in GPU power caps with `nvidia-smi -pl` (docs/schedulers.md, "Power caps"). Absent, caps are
   * refused as unsupported. The agent must run as root: nvidia-smi changes a limit only for root.
   */
  readonly powerCaps?: PowerCapConfig;
}

export interface PowerCapConfig {
  /** nvidia-smi on the GPU node (default: `nvidia-smi`, found on PATH). */
  readonly nvidiaSmi?: string;
  /**
   * Where nvidia-smi runs: `srun` (the default) runs it on the job's node inside the job's allocation
   * (`srun --jobid=N --overlap -N1 -n1 -w NODE nvidia-smi …`); `local` runs it here, for an agent on
   * the GPU node itself (single-node sites).
   */
  readonly run?: 'local' | 'srun';
  /**
   * A file where FlexLon keeps what it capped (job, node, GPU, the limit to restore), so an agent
   * restarted while jobs are capped still puts their GPUs back. Without it that is kept in memory only.
   */
  readonly stateFile?: string;
}

export interface ResolvedPowerCaps {
  readonly nvidiaSmi: string;
  readonly run: 'local' | 'srun';
  readonly stateFile?: string;
}

export interface ResolvedSlurmConfig {
  readonly site: string;
  readonly env: Readonly<Record<string, string>>;
  readonly bin: (name: SlurmCommand) => string;
  readonly timeoutMs: number;
  readonly partitions: ReadonlyMap<string, QueuePolicy>;
  readonly qos: ReadonlyMap<string, Partial<QueuePolicy>>;
  /** Policy of jobs in partitions FlexLon does not manage. */
  readonly unmanaged: QueuePolicy;
  /** Set where the site lets FlexLon cap GPU power. */
  readonly powerCaps?: ResolvedPowerCaps;
}

export type SlurmCommand = 'squeue' | 'scontrol' | 'sbatch' | 'scancel' | 'srun';

/** The queue policy of jobs no partition or QoS rule names (shared with the Kubernetes adapter). */
export const DEFAULT_POLICY: QueuePolicy = DEFAULT_QUEUE_POLICY;

const fail = (field: string, detail: string): never => {
  throw new FlexError('FLX_CONFIG_INVALID', `slurm: ${field} ${detail}`, { path: field });
};

const checkPolicy = (field: string, p: Partial<QueuePolicy>): void => {
  if (p.slo !== undefined && p.slo !== 'deferrable' && p.slo !== 'inflexible')
    fail(`${field}.slo`, `must be "deferrable" or "inflexible", got ${String(p.slo)}`);
  for (const k of ['maxDeferralHours', 'gpuPowerKw', 'cpuPowerKw', 'defaultRunHours'] as const) {
    const v = p[k];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0))
      fail(`${field}.${k}`, `must be a number ≥ 0, got ${String(v)}`);
  }
};

const resolvePowerCaps = (p: unknown): ResolvedPowerCaps => {
  if (typeof p !== 'object' || p === null || Array.isArray(p))
    return fail('powerCaps', `must be an object like {"run": "srun"}, got ${JSON.stringify(p)}`);
  const { nvidiaSmi = 'nvidia-smi', run = 'srun', stateFile, ...rest } = p as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) fail(`powerCaps.${unknown[0]}`, 'is not a setting (known: nvidiaSmi, run, stateFile)');
  if (stateFile !== undefined && (typeof stateFile !== 'string' || stateFile.trim() === ''))
    fail('powerCaps.stateFile', `must be a file path, got ${JSON.stringify(stateFile)}`);
  if (typeof nvidiaSmi !== 'string' || nvidiaSmi.trim() === '')
    fail('powerCaps.nvidiaSmi', `must be the path of nvidia-smi, got ${JSON.stringify(nvidiaSmi)}`);
  if (run !== 'local' && run !== 'srun')
    fail(
      'powerCaps.run',
      `must be "srun" (on the job's node) or "local" (the agent is on the GPU node), got ${JSON.stringify(run)}`,
    );
  return {
    nvidiaSmi: nvidiaSmi as string,
    run: run as 'local' | 'srun',
    ...(stateFile === undefined ? {} : { stateFile: stateFile as string }),
  };
};

export const resolveSlurmConfig = (c: SlurmConfig): ResolvedSlurmConfig => {
  if (typeof c.site !== 'string' || c.site.trim() === '') fail('site', 'must be a non-empty site id');
  const timeoutMs = c.timeoutMs ?? 10_000;
  if (!(Number.isInteger(timeoutMs) && timeoutMs >= 100))
    fail('timeoutMs', `must be an integer ≥ 100, got ${timeoutMs}`);
  if (typeof c.partitions !== 'object' || c.partitions === null || Object.keys(c.partitions).length === 0) {
    fail('partitions', 'must name at least one partition FlexLon manages, e.g. {"batch": {"maxDeferralHours": 12}}');
  }
  const partitions = new Map<string, QueuePolicy>();
  for (const [name, p] of Object.entries(c.partitions)) {
    checkPolicy(`partitions.${name}`, p);
    partitions.set(name, { ...DEFAULT_POLICY, ...p });
  }
  const qos = new Map<string, Partial<QueuePolicy>>();
  for (const [name, p] of Object.entries(c.qos ?? {})) {
    checkPolicy(`qos.${name}`, p);
    qos.set(name, p);
  }
  const env: Record<string, string> = { TZ: 'UTC' };
  // Slurm reads and prints times in the host's zone; UTC makes "2026-11-25T18:00:00" mean one instant.
  if (c.slurmConf !== undefined) env.SLURM_CONF = c.slurmConf;
  const binDir = c.binDir;
  const powerCaps = c.powerCaps === undefined ? undefined : resolvePowerCaps(c.powerCaps);
  return {
    site: c.site,
    ...(powerCaps ? { powerCaps } : {}),
    env,
    timeoutMs,
    partitions,
    qos,
    bin: (name) => (binDir === undefined ? name : `${binDir.replace(/\/$/, '')}/${name}`),
    unmanaged: { ...DEFAULT_POLICY, slo: 'inflexible' },
  };
};
