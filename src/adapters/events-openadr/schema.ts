// JSON Schemas for the OpenADR 3-style program and event objects FlexLon accepts (written from the
// OpenADR 3.0.1 object definitions: required programName / programID + intervals, interval id +
// payloads, valuesMap type + values, intervalPeriod start + ISO-8601 duration). Extra members are
// allowed, as in OpenADR. Compiled once; errors become FLX_EVENT_INVALID naming the field.
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { FlexError } from '../../errors.ts';
import { eventProblems, type GridEvent, type Program } from '../../domain/grid-events.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const objectId = { type: 'string', pattern: '^[a-zA-Z0-9_-]*$', minLength: 1, maxLength: 128 };
const duration = {
  type: 'string',
  pattern:
    '^(-?)P(?=\\d|T\\d)(?:(\\d+)Y)?(?:(\\d+)M)?(?:(\\d+)([DW]))?(?:T(?:(\\d+)H)?(?:(\\d+)M)?(?:(\\d+(?:\\.\\d+)?)S)?)?$',
};
const intervalPeriod = {
  type: 'object',
  required: ['start'],
  properties: { start: { type: 'string', format: 'date-time' }, duration, randomizeStart: duration },
};
const valuesMap = {
  type: 'object',
  required: ['type', 'values'],
  properties: {
    type: { type: 'string', minLength: 1, maxLength: 128 },
    values: {
      type: 'array',
      items: {
        anyOf: [
          { type: 'number' },
          { type: 'string' },
          { type: 'boolean' },
          { type: 'object', required: ['x', 'y'], properties: { x: { type: 'number' }, y: { type: 'number' } } },
        ],
      },
    },
  },
};
const nullable = (s: object) => ({ anyOf: [s, { type: 'null' }] });

export const PROGRAM_SCHEMA = {
  $id: 'flexlon:openadr:program',
  type: 'object',
  required: ['programName'],
  properties: {
    id: objectId,
    objectType: { enum: ['PROGRAM'] },
    programName: { type: 'string', minLength: 1, maxLength: 128 },
    programLongName: nullable({ type: 'string' }),
    retailerName: nullable({ type: 'string' }),
    programType: nullable({ type: 'string' }),
    country: nullable({ type: 'string' }),
    principalSubdivision: nullable({ type: 'string' }),
    intervalPeriod,
    targets: nullable({ type: 'array', items: valuesMap }),
  },
} as const;

export const EVENT_SCHEMA = {
  $id: 'flexlon:openadr:event',
  type: 'object',
  required: ['programID', 'intervals'],
  properties: {
    id: objectId,
    objectType: { enum: ['EVENT'] },
    programID: objectId,
    eventName: nullable({ type: 'string' }),
    priority: nullable({ type: 'integer', minimum: 0 }),
    targets: nullable({ type: 'array', items: valuesMap }),
    payloadDescriptors: nullable({
      type: 'array',
      items: {
        type: 'object',
        required: ['payloadType'],
        properties: {
          payloadType: { type: 'string', minLength: 1, maxLength: 128 },
          units: nullable({ type: 'string' }),
          currency: nullable({ type: 'string' }),
        },
      },
    }),
    intervalPeriod,
    intervals: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['id', 'payloads'],
        properties: { id: { type: 'integer' }, intervalPeriod, payloads: { type: 'array', items: valuesMap } },
      },
    },
  },
} as const;

/** What each pattern means, for error messages (a regex is no help to the person fixing the file). */
const PATTERN_MEANING: Record<string, string> = {
  [duration.pattern]: 'an ISO 8601 duration such as PT1H, PT30M or P1D',
  [objectId.pattern]: 'an id of letters, digits, _ and - only',
};

const ajv = addFormats(new Ajv({ allErrors: true, strict: false, verbose: true }));
const checkProgram = ajv.compile(PROGRAM_SCHEMA);
const checkEvent = ajv.compile(EVENT_SCHEMA);

const describe = (errors: readonly ErrorObject[] | null | undefined): { path: string; message: string } => {
  const e = errors?.[0];
  if (!e) return { path: '', message: 'invalid' };
  const path =
    e.instancePath === ''
      ? '(top level)'
      : e.instancePath
          .slice(1)
          .replace(/\/(\d+)/g, '[$1]')
          .replace(/\//g, '.');
  const extra =
    e.keyword === 'required'
      ? ` (${(e.params as { missingProperty: string }).missingProperty})`
      : e.keyword === 'enum'
        ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`
        : '';
  if (e.keyword === 'pattern')
    return {
      path,
      message: `${JSON.stringify(e.data)} is not ${PATTERN_MEANING[(e.params as { pattern: string }).pattern] ?? `in the expected form (${(e.params as { pattern: string }).pattern})`}`,
    };
  return { path, message: `${e.message ?? 'invalid'}${extra}` };
};

export const validateProgram = (body: unknown, where: string): Program => {
  if (!checkProgram(body)) {
    const d = describe(checkProgram.errors);
    throw new FlexError('FLX_EVENT_INVALID', `${where}: program field ${d.path}: ${d.message}`, { path: d.path });
  }
  return body as Program;
};

export const validateEvent = (body: unknown, where: string): GridEvent => {
  if (!checkEvent(body)) {
    const d = describe(checkEvent.errors);
    throw new FlexError('FLX_EVENT_INVALID', `${where}: event field ${d.path}: ${d.message}`, { path: d.path });
  }
  const problems = eventProblems(body as GridEvent);
  if (problems.length)
    throw new FlexError('FLX_EVENT_INVALID', `${where}: event ${problems.join('; ')}`, {
      path: problems[0]?.split(':')[0] ?? '',
    });
  return body as GridEvent;
};
