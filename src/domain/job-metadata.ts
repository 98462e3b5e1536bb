// A job's FlexLon metadata: what the user (or the operator's defaults) says about how flexible it
// is. Users write it where their scheduler already lets them put free text — a JSON `--comment` in
// Slurm, `flexlon.io/*` annotations in Kubernetes — so nobody changes how they submit jobs. A
// field that is missing takes the queue's default; a field that is wrong also takes the default and
// is reported (which field, why, what to write instead), because one user's typo must not stop the
// agent or the job. Pure: the caller passes in what it read from the scheduler.
import type { SloClass } from './compute.ts';
import { epochMs, type EpochMs } from './time.ts';
import { kw, kwh, type Kilowatts, type KilowattHours } from './units.ts';

/** Defaults for the jobs of one partition / namespace / QoS when their metadata does not say. */
export interface QueuePolicy {
  readonly slo: SloClass;
  /** How long past its earliest finish a job may be delayed when it gives no deadline. */
  readonly maxDeferralHours: number;
  /** Marginal IT power of one busy GPU at full speed (kW). */
  readonly gpuPowerKw: number;
  /** Marginal IT power of one busy CPU core, for jobs without GPUs (kW). */
  readonly cpuPowerKw: number;
  readonly preemptible: boolean;
  /** Sites the jobs may run at; default: only the site they were submitted to. */
  readonly sites?: readonly string[];
  /** Run time assumed when a job has no time limit (hours). */
  readonly defaultRunHours: number;
}

/**
 * The policy of a job that no partition, QoS or label rule names: deferrable up to 12 h, costed as an
 * A100-class GPU with its share of node overhead (src/sim/power.ts) and one CPU core of a busy server.
 */
export const DEFAULT_QUEUE_POLICY: QueuePolicy = {
  slo: 'deferrable',
  maxDeferralHours: 12,
  gpuPowerKw: 0.37,
  cpuPowerKw: 0.01,
  preemptible: false,
  defaultRunHours: 4,
};

/** What the adapter read about the job from the scheduler itself. */
export interface JobFacts {
  readonly site: string;
  readonly submittedAt: EpochMs;
  readonly gpus: number;
  readonly cpus: number;
  /** The scheduler's time limit, an upper bound on the run time (minutes). */
  readonly timeLimitMinutes?: number;
  /** A deadline the scheduler itself knows (Slurm --deadline). */
  readonly nativeDeadlineAt?: EpochMs;
}

export interface JobMetadata {
  /** FlexLon identity carried by a moved job; absent on a job seen for the first time. */
  readonly flexId?: string;
  readonly slo: SloClass;
  readonly deadlineAt: EpochMs;
  readonly powerKw: Kilowatts;
  readonly energyKwh: KilowattHours;
  readonly preemptible: boolean;
  readonly allowedSites: readonly string[];
  readonly work: number;
  readonly workUnit: 'gpu-hours' | 'inferences' | 'tokens';
  readonly issues: readonly string[];
}

/** The metadata fields, as users write them (snake_case in a Slurm comment). */
export const METADATA_FIELDS = [
  'id',
  'slo',
  'deadline',
  'max_delay_h',
  'energy_kwh',
  'gpu_hours',
  'power_kw',
  'power_w',
  'preemptible',
  'sites',
  'work',
  'work_unit',
] as const;
type Field = (typeof METADATA_FIELDS)[number];
export type MetadataFields = Partial<Record<Field, unknown>>;

const HOUR_MS = 3_600_000;
const WORK_UNITS = ['gpu-hours', 'inferences', 'tokens'] as const;

/**
 * Reads FlexLon fields from free text. Text that is not a JSON object is someone's ordinary comment
 * and carries no metadata (no issue). A JSON object may hold the fields at the top level or under
 * `flexlon`; unknown keys are ignored, since the comment may serve other tools too.
 */
export const metadataFromText = (
  text: string | undefined,
  source: string,
): { fields: MetadataFields; issues: string[] } => {
  const trimmed = (text ?? '').trim();
  if (!trimmed.startsWith('{')) return { fields: {}, issues: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (e) {
    return {
      fields: {},
      issues: [
        `${source}: starts with "{" but is not valid JSON (${(e as Error).message}); write e.g. {"deadline":"2026-11-25T18:00:00Z","gpu_hours":8}. Used the queue's defaults`,
      ],
    };
  }
  const obj = parsed as Record<string, unknown>;
  const inner =
    typeof obj.flexlon === 'object' && obj.flexlon !== null && !Array.isArray(obj.flexlon)
      ? (obj.flexlon as Record<string, unknown>)
      : obj;
  const fields: MetadataFields = {};
  for (const f of METADATA_FIELDS) if (inner[f] !== undefined) fields[f] = inner[f];
  return { fields, issues: [] };
};

class Reader {
  readonly issues: string[] = [];
  constructor(
    private readonly fields: MetadataFields,
    private readonly source: string,
  ) {}

  private bad(field: Field, why: string, fallback: string): undefined {
    this.issues.push(`${this.source}.${field}: ${why}; used ${fallback}`);
    return undefined;
  }

  positive(field: Field, fallback: string): number | undefined {
    const v = this.fields[field];
    if (v === undefined) return undefined;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    return typeof n === 'number' && Number.isFinite(n) && n > 0
      ? n
      : this.bad(field, `${JSON.stringify(v)} is not a number > 0`, fallback);
  }

  time(field: Field, fallback: string): EpochMs | undefined {
    const v = this.fields[field];
    if (v === undefined) return undefined;
    // A zone is required: a bare local time would mean different instants on different hosts.
    const ok =
      typeof v === 'string' &&
      /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/.test(v) &&
      Number.isFinite(Date.parse(v));
    return ok
      ? epochMs(Date.parse(v))
      : this.bad(
          field,
          `${JSON.stringify(v)} is not an ISO-8601 time with a zone (e.g. "2026-11-25T18:00:00Z")`,
          fallback,
        );
  }

  bool(field: Field, fallback: string): boolean | undefined {
    const v = this.fields[field];
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    return this.bad(field, `${JSON.stringify(v)} is not true or false`, fallback);
  }

  oneOf<T extends string>(field: Field, allowed: readonly T[], fallback: string): T | undefined {
    const v = this.fields[field];
    if (v === undefined) return undefined;
    return (allowed as readonly unknown[]).includes(v)
      ? (v as T)
      : this.bad(field, `${JSON.stringify(v)} is not one of ${allowed.join(', ')}`, fallback);
  }

  sites(fallback: string): string[] | undefined {
    const v = this.fields.sites;
    if (v === undefined) return undefined;
    const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : v;
    return Array.isArray(list) && list.length > 0 && list.every((s) => typeof s === 'string' && s !== '')
      ? (list as string[])
      : this.bad('sites', `${JSON.stringify(v)} is not a non-empty list of site ids`, fallback);
  }

  id(): string | undefined {
    const v = this.fields.id;
    if (v === undefined) return undefined;
    return typeof v === 'string' && /^[\w.:/@-]{1,128}$/.test(v)
      ? v
      : this.bad('id', `${JSON.stringify(v)} is not a FlexLon job id`, 'the scheduler id');
  }
}

/** Resolves a job's metadata: its own fields where valid, else the queue policy's defaults. */
export const resolveMetadata = (
  fields: MetadataFields,
  facts: JobFacts,
  policy: QueuePolicy,
  source: string,
  earlier: readonly string[] = [],
): JobMetadata => {
  const r = new Reader(fields, source);
  const fullPowerKw = facts.gpus > 0 ? facts.gpus * policy.gpuPowerKw : Math.max(1, facts.cpus) * policy.cpuPowerKw;
  const powerW = r.positive('power_w', "the power of the job's GPUs");
  const powerKw =
    r.positive('power_kw', "the power of the job's GPUs") ?? (powerW === undefined ? fullPowerKw : powerW / 1000);
  const limitH =
    facts.timeLimitMinutes !== undefined && facts.timeLimitMinutes > 0
      ? facts.timeLimitMinutes / 60
      : policy.defaultRunHours;
  const gpuHours = r.positive('gpu_hours', 'power × time limit');
  const energyKwh =
    r.positive('energy_kwh', 'power × time limit') ??
    (gpuHours !== undefined && facts.gpus > 0 ? (gpuHours / facts.gpus) * powerKw : powerKw * limitH);
  const runH = energyKwh / powerKw;
  const delayH = r.positive('max_delay_h', `the queue's ${policy.maxDeferralHours} h`) ?? policy.maxDeferralHours;
  const deadlineAt =
    r.time('deadline', `submit time + run time + ${delayH} h`) ??
    facts.nativeDeadlineAt ??
    epochMs(facts.submittedAt + (runH + delayH) * HOUR_MS);
  const workUnit = r.oneOf('work_unit', WORK_UNITS, 'gpu-hours') ?? 'gpu-hours';
  const flexId = r.id();
  return {
    ...(flexId === undefined ? {} : { flexId }),
    slo: r.oneOf<SloClass>('slo', ['deferrable', 'inflexible'], `the queue's ${policy.slo}`) ?? policy.slo,
    deadlineAt,
    powerKw: kw(powerKw),
    energyKwh: kwh(energyKwh),
    preemptible: r.bool('preemptible', `the queue's ${String(policy.preemptible)}`) ?? policy.preemptible,
    allowedSites: r.sites('this site only') ?? policy.sites ?? [facts.site],
    work: r.positive('work', 'GPU-hours') ?? (facts.gpus > 0 ? facts.gpus : 1) * runH,
    workUnit,
    issues: [...earlier, ...r.issues],
  };
};
