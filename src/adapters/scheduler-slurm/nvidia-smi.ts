// nvidia-smi for the Slurm adapter's GPU power caps: where the GPUs of a job are (scontrol show job
// -d), what limits they allow (--query-gpu), and setting one (-i I -pl W). nvidia-smi runs on the
// job's node through `srun --jobid=N --overlap` or, for an agent on the GPU node itself, here.
// Every failure is a value: a cap that could not be applied is a refusal, not a fault of the agent.
import { FlexError } from '../../errors.ts';
import type { SlurmCommands } from './commands.ts';
import type { ResolvedPowerCaps } from './config.ts';

export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const done = <T>(value: T): Outcome<T> => ({ ok: true, value });
const failed = (reason: string): Outcome<never> => ({ ok: false, reason });

/** One GPU's power limits (W), as nvidia-smi reports them. */
export interface GpuLimits {
  readonly index: number;
  readonly minW: number;
  readonly maxW: number;
  readonly defaultW: number;
  readonly limitW: number;
}

/** The GPUs Slurm gave a job on one node: GRES indices, which are nvidia-smi's where gres.conf lists the devices in order. */
export interface NodeGpus {
  readonly node: string;
  readonly indices: readonly number[];
}

/** The fields asked for, in the order parseLimits reads them. */
export const LIMITS_QUERY = 'index,power.min_limit,power.max_limit,power.default_limit,power.limit';

/** Parses `--query-gpu=LIMITS_QUERY --format=csv,noheader,nounits`; a GPU without power management reads "[N/A]". */
export const parseLimits = (csv: string): Outcome<GpuLimits[]> => {
  const out: GpuLimits[] = [];
  for (const line of csv.split('\n').filter((l) => l.trim() !== '')) {
    const cells = line.split(',').map((c) => c.trim());
    const n = cells.map(Number);
    if (cells.length !== 5 || n.some((x) => !Number.isFinite(x)))
      return failed(
        `nvidia-smi reported no usable power limits (${line.trim()}): does this GPU support power management?`,
      );
    const [index = 0, minW = 0, maxW = 0, defaultW = 0, limitW = 0] = n;
    out.push({ index, minW, maxW, defaultW, limitW });
  }
  return done(out);
};

/** "0-1,3" → [0, 1, 3] */
export const parseIndexList = (s: string): number[] =>
  s.split(',').flatMap((part) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return [];
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    return Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
  });

/** A Slurm host list: "n1,n2", "gpu[01-03,07]" → each host name. One bracket group per name, as Slurm prints node lists. */
export const expandHostlist = (list: string): string[] => {
  const names: string[] = [];
  for (const m of list.matchAll(/([^,[]+)(?:\[([^\]]*)\])?([^,]*)/g)) {
    const [, prefix = '', ranges, suffix = ''] = m;
    if (ranges === undefined) {
      names.push(prefix + suffix);
      continue;
    }
    for (const part of ranges.split(',')) {
      const [a = '', b = a] = part.split('-');
      for (let i = Number(a); i <= Number(b); i++) names.push(prefix + String(i).padStart(a.length, '0') + suffix);
    }
  }
  return names;
};

/**
 * The GPUs of a running job from `scontrol show job -d N` (22.05 prints one line per node group:
 * `Nodes=node1 CPU_IDs=0-3 Mem=0 GRES=gpu:2(IDX:0-1)`, or `gpu:h200:2(IDX:0-1)` with a type).
 * squeue --json's gres_detail says the same but only lines it up with the node list by position.
 */
export const parseJobGpus = (scontrolDetail: string): NodeGpus[] => {
  const out: NodeGpus[] = [];
  for (const line of scontrolDetail.split('\n')) {
    const m = /^\s*Nodes=(\S+)\s.*\bGRES=(\S*)/.exec(line);
    if (!m) continue;
    const indices = [...(m[2] ?? '').matchAll(/gpu(?::[^:(,]+)?:\d+\(IDX:([\d,-]+)\)/g)].flatMap((g) =>
      parseIndexList(g[1] ?? ''),
    );
    if (indices.length > 0) for (const node of expandHostlist(m[1] ?? '')) out.push({ node, indices });
  }
  return out;
};

/** Where nvidia-smi runs for one node of one job. */
export interface Target {
  readonly slurmJobId: number;
  readonly node: string;
}

const watts = (w: number): string => `${w.toFixed(2)} W`;

export class NvidiaSmi {
  constructor(
    private readonly cfg: ResolvedPowerCaps,
    private readonly cmd: SlurmCommands,
  ) {}

  /** nvidia-smi with `args` on the target's node; any failure (exit, timeout, not found) is a reason. */
  private async run(t: Target | undefined, args: readonly string[]): Promise<Outcome<string>> {
    // --overlap: the step shares the job's CPUs instead of waiting for free ones (a busy job has none);
    // -N1 -n1 -w NODE: one task on that node only, whatever the job's own task layout.
    const viaSrun = this.cfg.run === 'srun' && t !== undefined;
    const argv = viaSrun
      ? [`--jobid=${t.slurmJobId}`, '--overlap', '-N1', '-n1', '-w', t.node, this.cfg.nvidiaSmi, ...args]
      : args;
    const shown = `${viaSrun ? 'srun … ' : ''}nvidia-smi ${args.join(' ')}`;
    try {
      const r = viaSrun
        ? await this.cmd.run('srun', argv)
        : await this.cmd.exec(this.cfg.nvidiaSmi, 'nvidia-smi', argv);
      // nvidia-smi prints its own errors on stdout; srun's are on stderr.
      if (r.code !== 0)
        return failed(`${shown} failed (exit ${r.code}): ${(r.stdout + r.stderr).trim() || '(no message)'}`);
      return done(r.stdout);
    } catch (e) {
      return failed(`${shown}: ${e instanceof FlexError ? e.message : String(e)}`);
    }
  }

  /** Limits of the given GPUs (all GPUs of this host when `t` and `indices` are undefined). */
  async limits(t: Target | undefined, indices?: readonly number[]): Promise<Outcome<GpuLimits[]>> {
    const r = await this.run(t, [
      `--query-gpu=${LIMITS_QUERY}`,
      '--format=csv,noheader,nounits',
      ...(indices ? ['-i', indices.join(',')] : []),
    ]);
    if (!r.ok) return r;
    const parsed = parseLimits(r.value);
    if (!parsed.ok) return parsed;
    const missing = (indices ?? []).filter((i) => !parsed.value.some((g) => g.index === i));
    if (missing.length > 0)
      return failed(`nvidia-smi${t ? ` on ${t.node}` : ''} did not report GPU ${missing.join(', ')}`);
    return parsed;
  }

  /** Sets one GPU's power limit. */
  async setLimit(t: Target | undefined, index: number, w: number): Promise<Outcome<void>> {
    const r = await this.run(t, ['-i', String(index), '-pl', String(w)]);
    return r.ok ? done(undefined) : failed(`${r.reason} (setting GPU ${index} to ${watts(w)})`);
  }
}
