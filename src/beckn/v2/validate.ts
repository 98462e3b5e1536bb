// Which Beckn a message speaks, and checking a 2.0 message against FlexLon's own envelope schema
// (schema.ts) or against an official OpenAPI file read at run time (`flexlon beckn validate`).
// Issue 18 item 5: DEG runs on 2.0 while FlexLon's network speaks core 1.1.1; the version is told
// from the context alone, so a receiver can pick its codec before reading the message.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { parse } from 'yaml';
import { FlexError } from '../../errors.ts';
import { issuesOf, type SchemaIssue } from '../validator.ts';
import { v2EnvelopeSchema, type V2Dialect } from './schema.ts';

// ajv-formats is CommonJS; under ESM its default import is the plugin function itself.
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

export type Detected =
  | { readonly version: '1.1.1'; readonly action: string | undefined }
  | { readonly version: '2.0'; readonly dialect: V2Dialect; readonly action: string | undefined };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The Beckn version of a message, from its context: core 1.1.x puts "1.1.0"/"1.1.1" in
 * context.version (0.9 networks put it in core_version) beside snake_case ids; 2.0 puts "2.0.x" in
 * context.version. A 2.0 context is the LTS spelling when it has camelCase ids (bapId, messageId,
 * transactionId — beckn.yaml `Context`) and the DEG draft spelling when it has snake_case ones.
 * Returns an issue naming context.version when neither can be told.
 */
export const detectVersion = (msg: unknown): Detected | SchemaIssue => {
  const ctx = (msg as { context?: unknown } | null)?.context;
  if (typeof ctx !== 'object' || ctx === null || Array.isArray(ctx))
    return { path: 'context', message: 'is required (an object) to tell the Beckn version' };
  const c = ctx as Record<string, unknown>;
  const action = str(c.action);
  const version = str(c.version) ?? str(c.core_version);
  if (version !== undefined && /^1\.1(\.\d+)?$/.test(version)) return { version: '1.1.1', action };
  if (version !== undefined && /^2\.\d+(\.\d+)?$/.test(version)) {
    const camel = ['bapId', 'messageId', 'transactionId'].some((k) => k in c);
    const snake = ['bap_id', 'message_id', 'transaction_id'].some((k) => k in c);
    if (camel && snake) return { path: 'context', message: 'mixes camelCase (2.0 LTS) and snake_case (DEG draft) ids' };
    return { version: '2.0', dialect: snake ? 'deg-draft' : 'lts', action };
  }
  return {
    path: 'context.version',
    message:
      version === undefined
        ? 'is required: "1.1.x" (Beckn core 1.1.1) or "2.0.x" (Beckn 2.0)'
        : `${JSON.stringify(version)} is not a Beckn version FlexLon reads ("1.1.x" or "2.0.x")`,
  };
};

/** issuesOf, with the property an `additionalProperties: false` refuses named in the message. */
const issues = (errors: readonly ErrorObject[] | null | undefined): SchemaIssue[] =>
  issuesOf(
    (errors ?? []).map((e) =>
      e.keyword === 'additionalProperties'
        ? {
            ...e,
            message: `must not have "${(e.params as { additionalProperty: string }).additionalProperty}" (additionalProperties: false)`,
          }
        : e,
    ),
  );

let own: Ajv | undefined;
const compiledOwn = new Map<string, ValidateFunction>();

/** Issues of `body` as a 2.0 `action` message under FlexLon's own envelope schema. */
export const checkV2 = (dialect: V2Dialect, action: string, body: unknown): SchemaIssue[] => {
  if (!own) {
    // strictRequired off: `anyOf: [{ required: [...] }]` names properties declared beside it.
    own = new Ajv({ allErrors: true, strict: true, strictRequired: false });
    addFormats(own);
  }
  const key = `${dialect}\u0000${action}`;
  let v = compiledOwn.get(key);
  if (!v) {
    v = own.compile(v2EnvelopeSchema(dialect, action));
    compiledOwn.set(key, v);
  }
  return v(body) ? [] : issues(v.errors);
};

export interface OfficialSpec {
  readonly title: string;
  /** Issues of `body` against the request schema of POST /{action} in the file. */
  check(action: string, body: unknown): SchemaIssue[];
}

const ID = 'https://flexlon.invalid/official-spec';

/**
 * An official Beckn OpenAPI file (core 1.1.1 transaction.yaml, 2.0 beckn.yaml; YAML or JSON) read
 * at run time. Its $refs are resolved by ajv inside the one document; the 2020-12 dialect is
 * OpenAPI 3.1's (3.0 files compile under it too, as test/helpers/official-beckn.ts does for 1.1.1).
 * An unreadable or non-OpenAPI file is FLX_CONFIG_INVALID (exit 2), not an invalid message.
 */
export const loadOfficialSpec = (file: string): OfficialSpec => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlexError(
      'FLX_CONFIG_INVALID',
      `cannot read --spec ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { path: '--spec' },
    );
  }
  let doc: { openapi?: unknown; info?: { title?: unknown; version?: unknown }; paths?: Record<string, unknown> };
  try {
    doc = parse(text) as typeof doc; // JSON is YAML 1.2, so one parser reads both
  } catch (e) {
    throw new FlexError('FLX_CONFIG_INVALID', `--spec ${file} is not YAML or JSON: ${(e as Error).message}`, {
      path: '--spec',
    });
  }
  if (typeof doc !== 'object' || doc === null || typeof doc.paths !== 'object' || doc.paths === null)
    throw new FlexError('FLX_CONFIG_INVALID', `--spec ${file} is not an OpenAPI file (it has no paths)`, {
      path: '--spec',
    });
  const paths = doc.paths;
  // strict: false — an OpenAPI document carries keys (openapi, info, example) that are not schema
  // keywords; validateSchema: false — it is not itself a JSON Schema.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addFormat('phone', true); // 1.1.1 Support.phone uses a format JSON Schema does not define
  ajv.addSchema(doc, ID);
  const compiled = new Map<string, ValidateFunction>();
  return {
    title: `${str(doc.info?.title) ?? file} ${str(doc.info?.version) ?? ''}`.trim(),
    check(action, body) {
      // catalog/publish (2.0 CDS) is a two-segment path; a JSON pointer writes its '/' as ~1.
      if (!/^[a-z_]+(\/[a-z_]+)?$/.test(action) || !(`/${action}` in paths))
        return [{ path: 'context.action', message: `the spec has no path /${action}` }];
      let v = compiled.get(action);
      if (!v) {
        try {
          v = ajv.getSchema(
            `${ID}#/paths/~1${action.replace('/', '~1')}/post/requestBody/content/application~1json/schema`,
          );
        } catch (e) {
          throw new FlexError(
            'FLX_CONFIG_INVALID',
            `--spec ${file}: /${action} does not compile: ${(e as Error).message}`,
            {
              path: '--spec',
            },
          );
        }
        if (!v)
          throw new FlexError('FLX_CONFIG_INVALID', `--spec ${file}: /${action} has no JSON request body schema`, {
            path: '--spec',
          });
        compiled.set(action, v);
      }
      return v(body) ? [] : issues(v.errors);
    },
  };
};
