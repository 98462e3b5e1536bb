// The provider↔agent link protocol, flexlon-link/1: the bodies the Flexibility Orchestrator and its
// Compute-Flex agents exchange (signed JSON over HTTP, src/agents/link.ts), in one place, with the
// validators each side runs on what it receives. A body that does not match is refused with
// FLX_LINK_INVALID naming the field (its JSON path); a body of another protocol version with
// FLX_LINK_VERSION. Every body may carry `protocol: "flexlon-link/1"`; senders always do, and a body
// without it is read as flexlon-link/1 (what was sent before the protocol was versioned).
//
//   agent → provider   POST /internal/agent/report   FlexibilityReport    → DispatchMessage (reply)
//   provider → agent   POST /agent/dispatch          DispatchMessage      → DispatchResults
//   provider → agent   POST /agent/baseline          SlotRead             → SlotReadings
//   provider → agent   POST /agent/meter             SlotRead             → SlotReadings
//
// Dispatch has one message type whichever way it travels (docs/architecture.md, "One dispatch message").
//
// Site moves (docs/architecture.md, "Site moves") ride on the same dispatch message as optional
// fields: `exportJobs` (answered with `exported`), `importJobs` and `withdraw`. They were added to
// flexlon-link/1 without a new version because every one is optional and a provider sends them only
// to an agent whose report states `scheduler.move`, which an agent that predates them never does:
// old bodies still parse on both sides, and an old agent is never asked to move a job.
import { BATTERY_REPORT_FIELDS, type Actuation, type FlexibilityReport, type PortableJob } from '../domain/compute.ts';
import { FlexError } from '../errors.ts';
import type { BatteryInstruction, DispatchInstruction, PowerCapInstruction } from '../optimise/dispatch.ts';

export type { BatteryInstruction, DispatchInstruction, PowerCapInstruction } from '../optimise/dispatch.ts';

export const LINK_PROTOCOL = 'flexlon-link/1';

export const LINK_PATHS = {
  report: '/internal/agent/report',
  dispatch: '/agent/dispatch',
  baseline: '/agent/baseline',
  meter: '/agent/meter',
} as const;

/** Most slots one meter or baseline read may ask for. */
export const MAX_READ_SLOTS = 10_000;

/** Start times for a site's waiting jobs, from one plan: pushed (/agent/dispatch) or the reply to a report. */
export interface DispatchMessage {
  readonly dispatch: readonly DispatchInstruction[];
  /** Why the plan was made (audited by the agent); the agent's default for the route when absent. */
  readonly reason?: string;
  /** The stored plan the instructions come from (Store.savePlan). */
  readonly planId?: string;
  /** GPU power of running jobs for the current slot (sites whose scheduler can cap). */
  readonly powerCaps?: readonly PowerCapInstruction[];
  /** The site battery's setpoint for the current slot. */
  readonly battery?: BatteryInstruction;
  /**
   * Site move, first step (at the source): the waiting jobs to export. Nothing changes at the
   * source; the agent answers with each job's portable submission in `exported`.
   */
  readonly exportJobs?: readonly string[];
  /**
   * Site move, second step (at the target): jobs exported elsewhere, to submit here held by FlexLon,
   * before `dispatch` is applied (so the same message may release them).
   */
  readonly importJobs?: readonly PortableJob[];
  /**
   * Site move, last step: cancel these waiting jobs here, moved to another site (at the source once
   * the target holds the job), or the copy imported here when the source could not give it up.
   */
  readonly withdraw?: readonly WithdrawInstruction[];
}

/** A waiting job the agent cancels because it moved (or failed to move) between sites; audited with `why`. */
export interface WithdrawInstruction {
  readonly jobId: string;
  readonly why: string;
}

/** The agent's answer to a pushed dispatch: what the scheduler did with each instruction. */
export interface DispatchResults {
  readonly results: readonly Actuation[];
  /** The submissions of the jobs `exportJobs` asked for that the scheduler could export. */
  readonly exported?: readonly PortableJob[];
}

/** A read of average grid import per slot (meter) or of the settlement baseline, from `fromMs`. */
export interface SlotRead {
  readonly fromMs: number;
  readonly slots: number;
  /** The agent's own slot length when absent. */
  readonly slotMinutes?: number;
  /**
   * A baseline read only: `settlement` (the default) is the baseline orders are settled on;
   * `counterfactual` the same queue on the site's own scheduler without FlexLon (a simulated site's
   * FIFO twin), which the FIFO carbon cap holds plans to. A site with no counterfactual of its own
   * (a real one) answers it with its settlement baseline. Absent on older providers.
   */
  readonly kind?: 'settlement' | 'counterfactual';
}

/** kW per slot of a read; null where there is no value (JSON has no NaN). */
export interface SlotReadings {
  readonly importKw: readonly (number | null)[];
}

/** What goes on the wire: the body with the protocol it speaks. */
export const versioned = <T extends object>(body: T): T & { readonly protocol: string } => ({
  protocol: LINK_PROTOCOL,
  ...body,
});

type Fields = Record<string, unknown>;

const invalid = (what: string, path: string, must: string): FlexError =>
  new FlexError('FLX_LINK_INVALID', `${what}: ${path} ${must}`, { path });

const objectAt = (v: unknown, what: string, path: string): Fields => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(what, path, 'must be an object');
  return v as Fields;
};

/** The body as an object of the protocol this side speaks, without the `protocol` field. */
const body = (v: unknown, what: string): Fields => {
  const { protocol, ...rest } = objectAt(v, what, '$');
  if (protocol !== undefined && protocol !== LINK_PROTOCOL)
    throw new FlexError(
      'FLX_LINK_VERSION',
      `${what} speaks ${JSON.stringify(protocol)}; this side speaks ${LINK_PROTOCOL}`,
      { path: 'protocol' },
    );
  return rest;
};

const num = (o: Fields, key: string, what: string, prefix = ''): number => {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(what, `${prefix}${key}`, 'must be a finite number');
  return v;
};

const str = (o: Fields, key: string, what: string, prefix = ''): string => {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw invalid(what, `${prefix}${key}`, 'must be a non-empty string');
  return v;
};

const optionalStr = (o: Fields, key: string, what: string): void => {
  if (o[key] !== undefined && typeof o[key] !== 'string') throw invalid(what, key, 'must be a string when present');
};

const listAt = (o: Fields, key: string, what: string, prefix = ''): unknown[] => {
  const v = o[key];
  if (!Array.isArray(v)) throw invalid(what, `${prefix}${key}`, 'must be a list');
  return v;
};

const oneOf = (o: Fields, key: string, values: readonly string[], what: string, prefix: string): void => {
  if (!values.includes(o[key] as string)) throw invalid(what, `${prefix}${key}`, `must be one of ${values.join(', ')}`);
};

const JOB_STATES = ['queued', 'held', 'running', 'completed', 'cancelled'] as const;
const SLOS = ['inflexible', 'deferrable'] as const;

const PORTABLE_KINDS = ['slurm', 'kubernetes', 'sim'] as const;

/** A portable job as it travels in `importJobs` and `exported`: its identity, family and the job itself. */
const parsePortable = (x: unknown, what: string, path: string): void => {
  const p = objectAt(x, what, path);
  str(p, 'id', what, `${path}.`);
  oneOf(p, 'kind', PORTABLE_KINDS, what, `${path}.`);
  const j = objectAt(p.job, what, `${path}.job`);
  str(j, 'id', what, `${path}.job.`);
  if (j.id !== p.id) throw invalid(what, `${path}.job.id`, 'must equal the portable job id');
  str(j, 'site', what, `${path}.job.`);
  oneOf(j, 'slo', SLOS, what, `${path}.job.`);
  for (const k of ['gpus', 'powerKw', 'energyKwh', 'remainingKwh', 'releaseAt', 'deadlineAt'])
    num(j, k, what, `${path}.job.`);
  listAt(j, 'allowedSites', what, `${path}.job.`).forEach((s, k) => {
    if (typeof s !== 'string' || s === '') throw invalid(what, `${path}.job.allowedSites[${k}]`, 'must be a site id');
  });
};

const BATTERY_FIELDS = [...BATTERY_REPORT_FIELDS, 'socKwh'] as const;

/** A reported battery: every figure a number ≥ 0, 0 ≤ minSoc ≤ maxSoc ≤ capacity, efficiency in (0, 1]. */
const parseBattery = (b: Fields, what: string): void => {
  const v = Object.fromEntries(BATTERY_FIELDS.map((k) => [k, num(b, k, what, 'battery.')])) as Record<
    (typeof BATTERY_FIELDS)[number],
    number
  >;
  for (const k of BATTERY_FIELDS) if (v[k] < 0) throw invalid(what, `battery.${k}`, 'must be ≥ 0');
  if (!(v.roundTripEfficiency > 0 && v.roundTripEfficiency <= 1))
    throw invalid(what, 'battery.roundTripEfficiency', 'must be in (0, 1]');
  if (v.minSocKwh > v.maxSocKwh || v.maxSocKwh > v.capacityKwh)
    throw invalid(what, 'battery.maxSocKwh', 'must satisfy minSocKwh ≤ maxSocKwh ≤ capacityKwh');
};

/** The provider checks an agent's report (the fields planning reads) before it keeps or plans with it. */
export const parseReport = (v: unknown): FlexibilityReport => {
  const what = 'the agent report';
  const r = body(v, what);
  str(r, 'site', what);
  str(r, 'region', what);
  for (const k of ['at', 'itPowerLimitKw', 'pue', 'gridImportLimitKw', 'baseLoadFrom', 'slotMinutes']) num(r, k, what);
  if (!Number.isInteger(r.slotMinutes) || (r.slotMinutes as number) <= 0)
    throw invalid(what, 'slotMinutes', 'must be a positive whole number of minutes');
  listAt(r, 'baseLoadKw', what).forEach((x, k) => {
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw invalid(what, `baseLoadKw[${k}]`, 'must be a finite number');
  });
  listAt(r, 'jobs', what).forEach((x, n) => {
    const at = `jobs[${n}].`;
    const j = objectAt(x, what, `jobs[${n}]`);
    str(j, 'id', what, at);
    str(j, 'site', what, at);
    oneOf(j, 'state', JOB_STATES, what, at);
    oneOf(j, 'slo', SLOS, what, at);
    for (const k of ['powerKw', 'remainingKwh', 'releaseAt', 'deadlineAt']) num(j, k, what, at);
  });
  if (r.refused !== undefined) listAt(r, 'refused', what);
  if (r.staleSince !== undefined) num(r, 'staleSince', what);
  if (r.battery !== undefined) parseBattery(objectAt(r.battery, what, 'battery'), what);
  if (r.scheduler !== undefined) {
    const c = objectAt(r.scheduler, what, 'scheduler');
    oneOf(c, 'kind', PORTABLE_KINDS, what, 'scheduler.');
    if (typeof c.move !== 'boolean') throw invalid(what, 'scheduler.move', 'must be true or false');
  }
  return r as unknown as FlexibilityReport;
};

/** The agent checks a dispatch, pushed or in the reply to its report, before it touches the scheduler. */
export const parseDispatchMessage = (v: unknown): DispatchMessage => {
  const what = 'the dispatch';
  const m = body(v, what);
  listAt(m, 'dispatch', what).forEach((x, n) => {
    const d = objectAt(x, what, `dispatch[${n}]`);
    str(d, 'jobId', what, `dispatch[${n}].`);
    num(d, 'beginAt', what, `dispatch[${n}].`);
  });
  optionalStr(m, 'reason', what);
  optionalStr(m, 'planId', what);
  if (m.powerCaps !== undefined)
    listAt(m, 'powerCaps', what).forEach((x, n) => {
      const c = objectAt(x, what, `powerCaps[${n}]`);
      str(c, 'jobId', what, `powerCaps[${n}].`);
      num(c, 'until', what, `powerCaps[${n}].`);
      if (c.powerKw !== null && (typeof c.powerKw !== 'number' || !Number.isFinite(c.powerKw) || c.powerKw < 0))
        throw invalid(what, `powerCaps[${n}].powerKw`, 'must be a power ≥ 0 (kW) or null to lift the cap');
    });
  if (m.battery !== undefined) {
    const b = objectAt(m.battery, what, 'battery');
    num(b, 'kw', what, 'battery.');
    num(b, 'until', what, 'battery.');
  }
  if (m.exportJobs !== undefined)
    listAt(m, 'exportJobs', what).forEach((x, n) => {
      if (typeof x !== 'string' || x === '') throw invalid(what, `exportJobs[${n}]`, 'must be a job id');
    });
  if (m.importJobs !== undefined)
    listAt(m, 'importJobs', what).forEach((x, n) => parsePortable(x, what, `importJobs[${n}]`));
  if (m.withdraw !== undefined)
    listAt(m, 'withdraw', what).forEach((x, n) => {
      const w = objectAt(x, what, `withdraw[${n}]`);
      str(w, 'jobId', what, `withdraw[${n}].`);
      str(w, 'why', what, `withdraw[${n}].`);
    });
  return m as unknown as DispatchMessage;
};

/** The provider checks the agent's answer to a pushed dispatch. */
export const parseDispatchResults = (v: unknown): DispatchResults => {
  const what = "the agent's dispatch results";
  const m = body(v, what);
  listAt(m, 'results', what).forEach((x, n) => {
    const a = objectAt(x, what, `results[${n}]`);
    str(a, 'jobId', what, `results[${n}].`);
    if (typeof a.ok !== 'boolean') throw invalid(what, `results[${n}].ok`, 'must be true or false');
  });
  if (m.exported !== undefined) listAt(m, 'exported', what).forEach((x, n) => parsePortable(x, what, `exported[${n}]`));
  return m as unknown as DispatchResults;
};

/** The agent checks a meter or baseline read: a start and 1–MAX_READ_SLOTS slots. */
export const parseSlotRead = (v: unknown): SlotRead => {
  const what = 'the read';
  const m = body(v, what);
  num(m, 'fromMs', what);
  const slots = num(m, 'slots', what);
  if (!Number.isInteger(slots) || slots < 1 || slots > MAX_READ_SLOTS)
    throw invalid(what, 'slots', `must be a whole number from 1 to ${MAX_READ_SLOTS}`);
  if (m.slotMinutes !== undefined) {
    const minutes = num(m, 'slotMinutes', what);
    // Settlement periods and finer: a slot of days would make a read of 10,000 slots span decades.
    if (!Number.isInteger(minutes) || minutes <= 0 || minutes > 60 || 1440 % minutes !== 0)
      throw invalid(what, 'slotMinutes', 'must be a whole number of minutes from 1 to 60 that divides a day');
  }
  if (m.kind !== undefined && m.kind !== 'settlement' && m.kind !== 'counterfactual')
    throw invalid(what, 'kind', `must be settlement or counterfactual, got ${JSON.stringify(m.kind)}`);
  return m as unknown as SlotRead;
};

/** The provider checks an agent's readings: a number (or null) per slot. */
export const parseSlotReadings = (v: unknown): SlotReadings => {
  const what = "the agent's readings";
  const m = body(v, what);
  listAt(m, 'importKw', what).forEach((x, k) => {
    if (x !== null && (typeof x !== 'number' || !Number.isFinite(x)))
      throw invalid(what, `importKw[${k}]`, 'must be a finite number or null');
  });
  return m as unknown as SlotReadings;
};
