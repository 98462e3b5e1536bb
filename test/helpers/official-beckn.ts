// The official Beckn core 1.1.1 transaction.yaml, read in place from ../shared at test time (its
// licence forbids copying it into the project), compiled with ajv's JSON Schema 2020-12 dialect (the
// dialect of OpenAPI 3.1). Used to check that what FlexLon emits conforms to the published schema.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { parse } from 'yaml';
import { issuesOf, type SchemaIssue } from '../../src/beckn/validator.ts';
import { sharedPath } from './shared.ts';

const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;
const ID = 'https://beckn.example/core-v1.1.1/transaction.yaml';

let cache: ((action: string, body: unknown) => SchemaIssue[]) | undefined;

export const officialValidator = (): ((action: string, body: unknown) => SchemaIssue[]) => {
  if (cache) return cache;
  const doc = parse(
    readFileSync(
      sharedPath('beckn', 'protocol-specifications', 'core-v1.1.1', 'api', 'transaction', 'build', 'transaction.yaml'),
      'utf8',
    ),
  ) as { paths: Record<string, unknown> };
  // strict: false — the document is an OpenAPI file, not a bare schema (openapi, info, paths keys).
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addFormat('phone', true); // Support.phone uses a format JSON Schema does not define
  ajv.addSchema(doc, ID);
  const compiled = new Map<string, ValidateFunction>();
  cache = (action, body) => {
    if (!(`/${action}` in doc.paths))
      return [{ path: 'context.action', message: `transaction.yaml has no /${action}` }];
    let v = compiled.get(action);
    if (!v) {
      v = ajv.getSchema(`${ID}#/paths/~1${action}/post/requestBody/content/application~1json/schema`);
      if (!v) throw new Error(`cannot compile the schema of /${action} from transaction.yaml`);
      compiled.set(action, v);
    }
    return v(body) ? [] : issuesOf(v.errors);
  };
  return cache;
};
