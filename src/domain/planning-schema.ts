// JSON Schemas (draft-07) of the planning problem and the schedule, versions 1 and 2 (2 adds soft
// deadlines: `slo` on jobs, and the late jobs and the cost split in the schedule). They are the
// published contract (docs/planning-problem.md; copies in docs/schemas/, kept equal by a test);
// src/domain/planning.ts holds the matching TypeScript types. A schema checks shape and ranges;
// rules that relate fields (array lengths equal to `slots`, sites that exist, release before
// deadline) are checked by src/optimise/validate.ts, which names the JSON path of each fault.

const nonNegative = { type: 'number', minimum: 0 } as const;
const series = (what: string) =>
  ({ type: 'array', items: { type: 'number' }, description: `${what}, one value per slot` }) as const;

export const PROBLEM_SCHEMA_ID = 'https://flexlon.dev/schemas/planning-problem.v1.json';
export const SCHEDULE_SCHEMA_ID = 'https://flexlon.dev/schemas/schedule.v1.json';

export const problemSchemaV1 = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: PROBLEM_SCHEMA_ID,
  title: 'FlexLon planning problem, version 1',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'start', 'slotMinutes', 'slots', 'sites', 'jobs'],
  properties: {
    version: { const: 1 },
    start: { type: 'string', format: 'date-time', description: 'UTC instant at which slot 0 starts' },
    slotMinutes: { type: 'integer', minimum: 1, maximum: 1440 },
    slots: { type: 'integer', minimum: 1, maximum: 10000 },
    sites: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'itPowerLimitKw', 'pue', 'gridImportLimitKw', 'priceGbpPerMwh', 'carbonGPerKwh'],
        properties: {
          id: { type: 'string', minLength: 1 },
          itPowerLimitKw: nonNegative,
          pue: { type: 'number', minimum: 1 },
          gridImportLimitKw: nonNegative,
          priceGbpPerMwh: series('£/MWh of grid import'),
          carbonGPerKwh: { ...series('gCO2/kWh of grid import'), items: nonNegative },
          battery: {
            type: 'object',
            additionalProperties: false,
            required: [
              'capacityKwh',
              'maxChargeKw',
              'maxDischargeKw',
              'roundTripEfficiency',
              'initialSocKwh',
              'minSocKwh',
            ],
            properties: {
              capacityKwh: nonNegative,
              maxChargeKw: nonNegative,
              maxDischargeKw: nonNegative,
              roundTripEfficiency: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
              initialSocKwh: nonNegative,
              minSocKwh: nonNegative,
            },
          },
        },
      },
    },
    jobs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'energyKwh', 'maxPowerKw', 'releaseSlot', 'deadlineSlot', 'preemptible', 'sites'],
        properties: {
          id: { type: 'string', minLength: 1 },
          energyKwh: nonNegative,
          maxPowerKw: { type: 'number', exclusiveMinimum: 0 },
          releaseSlot: { type: 'integer', minimum: 0 },
          deadlineSlot: { type: 'integer', minimum: 1 },
          preemptible: { type: 'boolean' },
          sites: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
          work: nonNegative,
        },
      },
    },
    carbonCapKg: nonNegative,
    commitments: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['site', 'fromSlot', 'toSlot', 'maxImportKw'],
        properties: {
          site: { type: 'string', minLength: 1 },
          fromSlot: { type: 'integer', minimum: 0 },
          toSlot: { type: 'integer', minimum: 1 },
          maxImportKw: nonNegative,
        },
      },
    },
  },
} as const;

export const scheduleSchemaV1 = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: SCHEDULE_SCHEMA_ID,
  title: 'FlexLon schedule, version 1',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'status', 'costGbp', 'carbonKg', 'lowerBoundGbp', 'jobs', 'batteries'],
  properties: {
    version: { const: 1 },
    status: { enum: ['optimal', 'feasible', 'infeasible'] },
    reason: { type: 'string' },
    costGbp: { type: 'number' },
    carbonKg: { type: 'number' },
    lowerBoundGbp: { type: 'number' },
    work: nonNegative,
    gbpPerUnitOfWork: { type: 'number' },
    gCo2PerUnitOfWork: { type: 'number' },
    planner: { type: 'string' },
    jobs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'site', 'powerKw'],
        properties: { id: { type: 'string' }, site: { type: 'string' }, powerKw: series('IT power (kW)') },
      },
    },
    batteries: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['site', 'chargeKw', 'dischargeKw'],
        properties: {
          site: { type: 'string' },
          chargeKw: series('charging power (kW)'),
          dischargeKw: series('discharging power (kW)'),
        },
      },
    },
  },
} as const;

export const PROBLEM_SCHEMA_V2_ID = 'https://flexlon.dev/schemas/planning-problem.v2.json';
export const SCHEDULE_SCHEMA_V2_ID = 'https://flexlon.dev/schemas/schedule.v2.json';

/** A job's service-level objective; validate.ts checks that a soft one states its £/hour. */
const sloSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { enum: ['hard', 'soft'] },
    lateGbpPerHour: { ...nonNegative, description: '£ per hour the whole job finishes late (soft only)' },
    maxDelaySlots: { type: 'integer', minimum: 0, description: 'it must finish by deadlineSlot + this (soft only)' },
  },
} as const;

const jobsV1 = problemSchemaV1.properties.jobs;
const sitesV1 = problemSchemaV1.properties.sites;
const batteryV1 = sitesV1.items.properties.battery;

export const problemSchemaV2 = {
  ...problemSchemaV1,
  $id: PROBLEM_SCHEMA_V2_ID,
  title: 'FlexLon planning problem, version 2',
  properties: {
    ...problemSchemaV1.properties,
    version: { const: 2 },
    sites: {
      ...sitesV1,
      items: {
        ...sitesV1.items,
        properties: {
          ...sitesV1.items.properties,
          unservedPriceGbpPerMwh: {
            type: 'number',
            description:
              'price (£/MWh) at which energy a soft job leaves beyond the horizon will be bought; absent: the dearest price in the horizon, at least 0',
          },
          battery: {
            ...batteryV1,
            properties: {
              ...batteryV1.properties,
              degradationGbpPerMwh: { ...nonNegative, description: '£ per MWh discharged (battery wear)' },
            },
          },
        },
      },
    },
    jobs: {
      ...jobsV1,
      items: {
        ...jobsV1.items,
        properties: {
          ...jobsV1.items.properties,
          // A soft job's deadline may already have passed (≤ releaseSlot, even negative): it is late from
          // slot 0 on; validate.ts keeps a hard job's deadline after its release.
          deadlineSlot: { type: 'integer' },
          slo: sloSchema,
          moveCostGbp: {
            ...nonNegative,
            description: '£ to run the job at any of its sites but the first (its home), once; absent: 0',
          },
        },
      },
    },
    // With an intensity the kg are an allowance that may be negative (validate.ts keeps a plain kg cap ≥ 0).
    carbonCapKg: { type: 'number' },
    carbonCapGPerKwh: {
      ...nonNegative,
      description:
        'grams of CO2 per kWh imported the cap allows on top of carbonCapKg: the plan emits at most carbonCapKg + carbonCapGPerKwh × its kWh imported / 1000',
    },
  },
} as const;

export const scheduleSchemaV2 = {
  ...scheduleSchemaV1,
  $id: SCHEDULE_SCHEMA_V2_ID,
  title: 'FlexLon schedule, version 2',
  properties: {
    ...scheduleSchemaV1.properties,
    version: { const: 2 },
    workDone: nonNegative,
    energyCostGbp: { type: 'number' },
    latenessCostGbp: { type: 'number' },
    batteryWearGbp: { type: 'number' },
    moveCostGbp: { type: 'number' },
    late: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'deadlineSlot', 'finishSlot', 'lateSlots', 'unservedKwh', 'costGbp'],
        properties: {
          id: { type: 'string' },
          deadlineSlot: { type: 'integer' },
          finishSlot: { type: ['integer', 'null'] },
          lateSlots: { type: 'integer', minimum: 0 },
          unservedKwh: nonNegative,
          costGbp: { type: 'number' },
        },
      },
    },
  },
} as const;
