// Validation of planning problems and schedules read from outside (files, APIs). First the JSON
// Schema (shape and ranges, src/domain/planning-schema.ts), then the rules that relate fields.
// Every fault names its JSON path (`$.jobs[3].deadlineSlot`) and what would be accepted, so a
// user can fix the file without reading code. Infeasibility (a job that cannot fit) is not a
// validation fault: the planner answers it with an infeasible schedule and a reason.
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';
import type { PlanningProblem, Schedule } from '../domain/planning.ts';
import { problemSchemaV1, problemSchemaV2, scheduleSchemaV1, scheduleSchemaV2 } from '../domain/planning-schema.ts';

export interface Fault {
  /** JSON path of the offending value, `$` for the document itself. */
  readonly path: string;
  readonly message: string;
}

export type Validated<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly faults: readonly Fault[] };

// ajv and ajv-formats are CommonJS; under ESM their class sits on `.default`.
type AjvClass = typeof AjvModule.default;
const Ajv = ((AjvModule as unknown as { default?: AjvClass }).default ?? AjvModule) as AjvClass;
type FormatsPlugin = typeof formatsModule.default;
const addFormats = ((formatsModule as unknown as { default?: FormatsPlugin }).default ??
  formatsModule) as FormatsPlugin;

interface Compiled {
  readonly problem: ValidateFunction;
  readonly schedule: ValidateFunction;
  readonly problemV2: ValidateFunction;
  readonly scheduleV2: ValidateFunction;
}
let compiled: Compiled | undefined;
const validators = (): Compiled => {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats(ajv, ['date-time']);
    compiled = {
      problem: ajv.compile(problemSchemaV1),
      schedule: ajv.compile(scheduleSchemaV1),
      problemV2: ajv.compile(problemSchemaV2),
      scheduleV2: ajv.compile(scheduleSchemaV2),
    };
  }
  return compiled;
};

/** `/jobs/3/deadlineSlot` → `$.jobs[3].deadlineSlot`. */
export const jsonPath = (pointer: string): string =>
  '$' +
  pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join('');

const describe = (e: ErrorObject): Fault => {
  const path = jsonPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: `${path === '$' ? '$' : path}.${String(p['missingProperty'])}`, message: 'is required' };
    case 'additionalProperties':
      return {
        path: `${path}.${String(p['additionalProperty'])}`,
        message: 'is not a field of this format (check the spelling; no version allows extra fields)',
      };
    case 'const':
      return { path, message: `must be ${JSON.stringify(p['allowedValue'])}` };
    case 'enum':
      return {
        path,
        message: `must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'format':
      return { path, message: `must be an ISO-8601 ${String(p['format'])} such as 2023-06-01T00:00:00Z` };
    case 'type':
      // JSON's 1e999 parses as Infinity, which is no number a plan can use: say "finite".
      return {
        path,
        message:
          p['type'] === 'number'
            ? 'must be a finite number'
            : p['type'] === 'integer'
              ? 'must be a whole number'
              : (e.message ?? 'is invalid'),
      };
    default:
      return { path, message: e.message ?? 'is invalid' };
  }
};

const schemaFaults = (v: ValidateFunction, doc: unknown): Fault[] | undefined => {
  if (v(doc)) return undefined;
  // ajv reports a type error once per failing branch; one line per path and message is enough.
  const seen = new Set<string>();
  return (v.errors ?? [])
    .map(describe)
    .filter((f) => !seen.has(`${f.path} ${f.message}`) && seen.add(`${f.path} ${f.message}`));
};

const seriesFaults = (values: readonly unknown[], slots: number, path: string, out: Fault[]): void => {
  if (values.length !== slots)
    out.push({ path, message: `has ${values.length} values; it needs one per slot (slots = ${slots})` });
};

/**
 * Bounds on a slot's price and intensity. GB's half-hourly prices have stayed within a few thousand
 * £/MWh (the day-ahead auction's limits are −£500 and £4,000, BSC imbalance prices a little
 * beyond), and no generator emits much above 1,000 gCO2/kWh (lignite). Values beyond these are a
 * unit slip (£/kWh for £/MWh, p/kWh) and would also leave the solver's numeric range (HiGHS takes
 * 1e20 for infinite; a price of 1e300 made it fail and the greedy fallback plan).
 */
export const MAX_PRICE_GBP_PER_MWH = 100_000;
export const MAX_CARBON_G_PER_KWH = 10_000;

const boundFaults = (values: readonly number[], max: number, unit: string, path: string, out: Fault[]): void => {
  const i = values.findIndex((v) => Math.abs(v) > max);
  if (i >= 0)
    out.push({
      path: `${path}[${i}]`,
      message: `${values[i]} ${unit} is beyond ±${max.toLocaleString('en-GB')} ${unit}: check the unit (a GB price or intensity stays far inside it)`,
    });
};

/**
 * Any number beyond ±1e12 (a terawatt, a trillion £): no data centre's figure, and past the range in
 * which the solver's arithmetic holds (HiGHS takes 1e20 as infinite). The first five are named.
 */
const HUGE = 1e12;
const hugeFaults = (v: unknown, path: string, out: Fault[]): void => {
  if (out.length >= 5) return;
  if (typeof v === 'number') {
    if (Math.abs(v) > HUGE) out.push({ path, message: `${v} is beyond ±1e12: check the unit` });
  } else if (Array.isArray(v)) v.forEach((x, i) => hugeFaults(x, `${path}[${i}]`, out));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) hugeFaults(x, `${path}.${k}`, out);
};

const siteFaults = (p: PlanningProblem, out: Fault[]): Set<string> => {
  const ids = new Set<string>();
  p.sites.forEach((s, i) => {
    const at = `$.sites[${i}]`;
    if (ids.has(s.id)) out.push({ path: `${at}.id`, message: `site id "${s.id}" is used twice` });
    ids.add(s.id);
    seriesFaults(s.priceGbpPerMwh, p.slots, `${at}.priceGbpPerMwh`, out);
    seriesFaults(s.carbonGPerKwh, p.slots, `${at}.carbonGPerKwh`, out);
    boundFaults(s.priceGbpPerMwh, MAX_PRICE_GBP_PER_MWH, '£/MWh', `${at}.priceGbpPerMwh`, out);
    boundFaults(s.carbonGPerKwh, MAX_CARBON_G_PER_KWH, 'gCO2/kWh', `${at}.carbonGPerKwh`, out);
    const b = s.battery;
    if (b && b.minSocKwh > b.capacityKwh)
      out.push({
        path: `${at}.battery.minSocKwh`,
        message: `${b.minSocKwh} kWh is above capacityKwh ${b.capacityKwh}`,
      });
    if (b && (b.initialSocKwh < b.minSocKwh || b.initialSocKwh > b.capacityKwh))
      out.push({
        path: `${at}.battery.initialSocKwh`,
        message: `${b.initialSocKwh} kWh must lie in [minSocKwh, capacityKwh] = [${b.minSocKwh}, ${b.capacityKwh}]`,
      });
  });
  return ids;
};

const jobFaults = (p: PlanningProblem, sites: Set<string>, out: Fault[]): void => {
  const ids = new Set<string>();
  p.jobs.forEach((j, i) => {
    const at = `$.jobs[${i}]`;
    if (ids.has(j.id)) out.push({ path: `${at}.id`, message: `job id "${j.id}" is used twice` });
    ids.add(j.id);
    if (j.deadlineSlot <= j.releaseSlot && j.slo?.kind !== 'soft')
      out.push({
        path: `${at}.deadlineSlot`,
        message: `${j.deadlineSlot} must be after releaseSlot ${j.releaseSlot} (the window is [releaseSlot, deadlineSlot))`,
      });
    if (j.deadlineSlot > p.slots)
      out.push({ path: `${at}.deadlineSlot`, message: `${j.deadlineSlot} is beyond the horizon of ${p.slots} slots` });
    j.sites.forEach((s, k) => {
      if (!sites.has(s)) out.push({ path: `${at}.sites[${k}]`, message: `no site "${s}" in $.sites` });
    });
    sloFaults(j, at, out);
  });
};

/** A soft SLO states its £ per hour of lateness; a hard one has no soft fields. */
const sloFaults = (j: PlanningProblem['jobs'][number], at: string, out: Fault[]): void => {
  const slo = j.slo as { kind: string; lateGbpPerHour?: number; maxDelaySlots?: number } | undefined;
  if (!slo) return;
  if (slo.kind === 'soft' && slo.maxDelaySlots !== undefined && j.deadlineSlot + slo.maxDelaySlots <= j.releaseSlot)
    out.push({
      path: `${at}.slo.maxDelaySlots`,
      message: `deadlineSlot ${j.deadlineSlot} + ${slo.maxDelaySlots} is not after releaseSlot ${j.releaseSlot}: the job could never run`,
    });
  if (slo.kind === 'soft' && slo.lateGbpPerHour === undefined)
    out.push({ path: `${at}.slo.lateGbpPerHour`, message: 'is required for a soft SLO (£ per hour of lateness)' });
  if (slo.kind === 'hard')
    for (const f of ['lateGbpPerHour', 'maxDelaySlots'] as const)
      if (slo[f] !== undefined) out.push({ path: `${at}.slo.${f}`, message: 'applies to a soft SLO only' });
};

/** A plain kg cap is at least 0; only a cap with an intensity (an allowance on top of it) may be below. */
const carbonCapFaults = (p: PlanningProblem, out: Fault[]): void => {
  if (p.carbonCapKg !== undefined && p.carbonCapKg < 0 && !((p.carbonCapGPerKwh ?? 0) > 0))
    out.push({
      path: '$.carbonCapKg',
      message: `${p.carbonCapKg} is below 0; a cap in kg must be at least 0 (only with a carbonCapGPerKwh above 0 is it an allowance that may be negative)`,
    });
  if (p.carbonCapGPerKwh !== undefined && p.carbonCapKg === undefined)
    out.push({ path: '$.carbonCapGPerKwh', message: 'needs carbonCapKg (the allowance on top of it; 0 for none)' });
};

const commitmentFaults = (p: PlanningProblem, sites: Set<string>, out: Fault[]): void => {
  p.commitments.forEach((c, i) => {
    const at = `$.commitments[${i}]`;
    if (!sites.has(c.site)) out.push({ path: `${at}.site`, message: `no site "${c.site}" in $.sites` });
    if (c.toSlot <= c.fromSlot)
      out.push({ path: `${at}.toSlot`, message: `${c.toSlot} must be after fromSlot ${c.fromSlot}` });
    if (c.toSlot > p.slots)
      out.push({ path: `${at}.toSlot`, message: `${c.toSlot} is beyond the horizon of ${p.slots} slots` });
  });
};

const versionMessage = (version: unknown): string =>
  typeof version === 'string' && (version.trim() === '1' || version.trim() === '2')
    ? `must be the number ${version.trim()}, not the string ${JSON.stringify(version)} (write "version": ${version.trim()}, without quotes)`
    : `version ${JSON.stringify(version)} is not supported; this FlexLon reads versions 1 and 2`;

const NOT_A_FIELD = describe({ keyword: 'additionalProperties', instancePath: '', params: {} } as ErrorObject).message;

/**
 * A version 1 file refused for fields that version 2 has (a job's `slo`, a site's battery, caps): say
 * so, rather than "check the spelling" of a field spelt right. Judged by the version 2 schema on the
 * same document: a field it does not refuse is one of its own.
 */
const namingVersion2 = (
  faults: readonly Fault[],
  v2: ValidateFunction,
  doc: unknown,
  what: 'problem' | 'schedule' = 'problem',
): Fault[] => {
  if (!faults.some((f) => f.message === NOT_A_FIELD) || doc === null || typeof doc !== 'object') return [...faults];
  const asV2 = schemaFaults(v2, { ...(doc as object), version: 2 }) ?? [];
  const refusedByV2 = new Set(asV2.filter((f) => f.message === NOT_A_FIELD).map((f) => f.path));
  return faults.map((f) =>
    f.message === NOT_A_FIELD && !refusedByV2.has(f.path)
      ? { path: f.path, message: `is a field of ${what} version 2: set "version": 2 at the top of the file to use it` }
      : f,
  );
};

/** Checks a parsed JSON document against planning problem version 1 or 2; fills in `commitments: []`. */
export const validateProblem = (doc: unknown): Validated<PlanningProblem> => {
  const version = (doc as { version?: unknown } | null)?.version;
  if (doc !== null && typeof doc === 'object' && version !== undefined && version !== 1 && version !== 2) {
    return { ok: false, faults: [{ path: '$.version', message: versionMessage(version) }] };
  }
  const v = validators();
  const shape = schemaFaults(version === 2 ? v.problemV2 : v.problem, doc);
  if (shape) return { ok: false, faults: version === 2 ? shape : namingVersion2(shape, v.problemV2, doc) };
  const raw = doc as Omit<PlanningProblem, 'commitments'> & { commitments?: PlanningProblem['commitments'] };
  const p: PlanningProblem = { ...raw, commitments: raw.commitments ?? [] };
  const out: Fault[] = [];
  const sites = siteFaults(p, out);
  jobFaults(p, sites, out);
  commitmentFaults(p, sites, out);
  carbonCapFaults(p, out);
  // Past the solver's range, where no rule above named the value more precisely.
  const huge: Fault[] = [];
  hugeFaults(doc, '$', huge);
  out.push(...huge.filter((f) => !out.some((x) => x.path === f.path)));
  return out.length > 0 ? { ok: false, faults: out } : { ok: true, value: p };
};

/** Checks a parsed JSON document against schedule version 1 or 2 (its shape only; `checkSchedule` judges it). */
export const validateSchedule = (doc: unknown): Validated<Schedule> => {
  const version = (doc as { version?: unknown } | null)?.version;
  const v = validators();
  const shape = schemaFaults(version === 2 ? v.scheduleV2 : v.schedule, doc);
  if (!shape) return { ok: true, value: doc as Schedule };
  return { ok: false, faults: version === 2 ? shape : namingVersion2(shape, v.scheduleV2, doc, 'schedule') };
};

export const faultLines = (faults: readonly Fault[], max = 20): string[] => {
  const lines = faults.slice(0, max).map((f) => `  ${f.path}: ${f.message}`);
  if (faults.length > max) lines.push(`  … and ${faults.length - max} more`);
  return lines;
};
