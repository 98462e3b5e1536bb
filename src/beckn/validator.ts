// Schema validation of Beckn messages: FlexLon's own schemas (schema/*.ts), compiled by ajv once per
// process (`becknValidator()` is memoised; compose calls it at start-up so the cost is paid before the
// first request). Issues come back as JSON paths in the dotted form used in NACKs
// (`message.order.items[0].id`), which is what transaction.yaml's Error.paths carries.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import { FlexError } from '../errors.ts';
import type { Action } from './context.ts';
import { ackSchema, messageSchemas } from './schema/actions.ts';
import { objectsSchema } from './schema/objects.ts';

// ajv-formats is CommonJS; under ESM its default import is the plugin function itself.
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

export interface BecknValidator {
  /** Every schema issue of `body` as the message of `action` (empty when valid). */
  check(action: Action, body: unknown): SchemaIssue[];
  /** Throws FLX_REQ_SCHEMA with the paths at fault. */
  assert(action: Action, body: unknown): void;
  /** Issues of a synchronous ACK/NACK body. */
  checkAck(body: unknown): SchemaIssue[];
}

const MAX_ISSUES = 10;

/** JSON pointer (/message/items/0/id) → dotted path (message.items[0].id). */
export const pointerToPath = (pointer: string): string =>
  pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc === '' ? seg : `${acc}.${seg}`), '');

export const issuesOf = (errors: readonly ErrorObject[] | null | undefined): SchemaIssue[] => {
  const seen = new Set<string>();
  const out: SchemaIssue[] = [];
  for (const e of errors ?? []) {
    // `if` only says "must match then"; the `required` error it wraps is reported on its own.
    if (e.keyword === 'if') continue;
    const base = pointerToPath(e.instancePath);
    const missing = e.keyword === 'required' ? (e.params as { missingProperty: string }).missingProperty : undefined;
    const path = missing === undefined ? base || '(body)' : base === '' ? missing : `${base}.${missing}`;
    const message =
      missing !== undefined
        ? 'is required'
        : e.keyword === 'enum'
          ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
          : e.keyword === 'const'
            ? `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`
            : (e.message ?? e.keyword);
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
  }
  return out;
};

/** The FLX_REQ_SCHEMA error for a list of issues: paths in `path`, each issue in the message. */
export const schemaError = (what: string, issues: readonly SchemaIssue[]): FlexError => {
  const shown = issues.slice(0, MAX_ISSUES);
  const more = issues.length > shown.length ? ` (and ${issues.length - shown.length} more)` : '';
  return new FlexError(
    'FLX_REQ_SCHEMA',
    `${what} does not match its schema: ${shown.map((i) => `${i.path} ${i.message}`).join('; ')}${more}`,
    { path: shown.map((i) => i.path).join(', ') },
  );
};

/** Values in a message up to which every schema error is listed; above it only the first is. */
const ALL_ERRORS_UP_TO = 2_000;

/** Whether `body` holds at most `budget` values (a walk that stops as soon as it has seen more). */
const small = (body: unknown, budget: number): boolean => {
  let left = budget;
  const stack: unknown[] = [body];
  while (stack.length > 0) {
    if (--left < 0) return false;
    const x = stack.pop();
    if (Array.isArray(x)) stack.push(...x.slice(0, left + 1));
    else if (x !== null && typeof x === 'object') stack.push(...Object.values(x as object).slice(0, left + 1));
  }
  return true;
};

const compile = (): BecknValidator => {
  // Two validators over the same schemas. The first stops at the first error: bodies come from the
  // network, and collecting every error of a message with many bad entries is quadratic in Ajv
  // (issue 14 finding 1: 40k invalid items in a signed /select took 10.6 s, 1M hung the BPP). Only a
  // message that fails it and is small is checked again with every error listed, so a NACK names
  // every field at fault where that is cheap and the first one otherwise.
  const build = (allErrors: boolean) => {
    const ajv = new Ajv({ allErrors, strict: true, strictRequired: false, allowUnionTypes: true });
    addFormats(ajv, ['date-time', 'date', 'uri', 'uuid', 'email']);
    ajv.addSchema(objectsSchema);
    const byAction = new Map<string, ValidateFunction>();
    for (const { action, schema } of messageSchemas()) byAction.set(action, ajv.compile(schema));
    return { byAction, ack: ajv.compile(ackSchema) };
  };
  const fast = build(false);
  let full: ReturnType<typeof build> | undefined;
  const check = (action: Action, body: unknown): SchemaIssue[] => {
    const v = fast.byAction.get(action);
    if (!v) return [{ path: 'context.action', message: `no schema for action ${JSON.stringify(action)}` }];
    if (v(body)) return [];
    if (!small(body, ALL_ERRORS_UP_TO)) return issuesOf(v.errors);
    const every = (full ??= build(true)).byAction.get(action)!;
    return every(body) ? [] : issuesOf(every.errors);
  };
  return {
    check,
    assert(action, body) {
      const issues = check(action, body);
      if (issues.length > 0) throw schemaError(`the ${action} message`, issues);
    },
    checkAck: (body) => (fast.ack(body) ? [] : issuesOf(fast.ack.errors)),
  };
};

let compiled: BecknValidator | undefined;

/** The process-wide validator; the first call compiles every schema. */
export const becknValidator = (): BecknValidator => (compiled ??= compile());
