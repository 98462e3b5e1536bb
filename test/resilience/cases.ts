// What the resilience suite sends (issue 14): fast-check recipes for one request, turned into bytes
// and headers at send time (signatures need the current clock). A recipe starts from a valid message
// of the endpoint and breaks it one way: a field replaced by a wrong type, a huge string or array,
// deep nesting or removed, then signed again (so it reaches schema and handler checks) or sent under
// the original signature (tampering); or it is random JSON, an empty or non-JSON body, another
// content type, or a missing, malformed, expired, over-long or foreign Authorization header.
import fc from 'fast-check';
import { generateKeyPair } from '../../src/beckn/keys.ts';
import { signBody } from '../../src/beckn/signing.ts';
import { signerFromPrivateKey } from '../../src/adapters/keystore-file/keystore.ts';
import type { Signer } from '../../src/ports.ts';

/** A value put in place of a field. Big ones are described, and built only as JSON text. */
export type BadValue =
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'delete' }
  | { readonly kind: 'huge-string'; readonly n: number }
  | { readonly kind: 'huge-array'; readonly n: number }
  | { readonly kind: 'deep'; readonly n: number }
  | { readonly kind: 'proto' };

export type AuthMode =
  | 'valid'
  | 'none'
  | 'empty'
  | 'garbage'
  | 'unknown-key'
  | 'expired'
  | 'future'
  | 'long-lived'
  | 'other-body'
  | 'oversized';

export type Body =
  | { readonly kind: 'mutate'; readonly path: readonly string[]; readonly value: BadValue; readonly resign: boolean }
  | { readonly kind: 'random-json'; readonly value: unknown }
  | { readonly kind: 'bytes'; readonly bytes: string }
  | { readonly kind: 'empty' }
  | { readonly kind: 'valid' };

export interface Recipe {
  readonly body: Body;
  readonly contentType: string | undefined;
  readonly auth: AuthMode;
  readonly garbageAuth?: string;
}

/** Every path into a JSON value (objects and arrays), the root excepted. */
export const pathsOf = (v: unknown, at: readonly string[] = []): string[][] => {
  if (typeof v !== 'object' || v === null) return [];
  return Object.entries(v).flatMap(([k, x]) => [[...at, k], ...pathsOf(x, [...at, k])]);
};

const badValue: fc.Arbitrary<BadValue> = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => ({ kind: 'json' as const, value })) },
  {
    weight: 4,
    arbitrary: fc
      .constantFrom<unknown>(null, true, 0, -1, 1e308, -1e308, '', ' ', 'x', [], {}, [null], { '': '' }, '\u0000')
      .map((value) => ({ kind: 'json' as const, value })),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary' }).map((value) => ({ kind: 'json' as const, value })) },
  { weight: 2, arbitrary: fc.constant({ kind: 'delete' as const }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 10_000, max: 2_000_000 }).map((n) => ({ kind: 'huge-string' as const, n })),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 200_000 }).map((n) => ({ kind: 'huge-array' as const, n })) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 200_000 }).map((n) => ({ kind: 'deep' as const, n })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'proto' as const }) },
);

const JSON_TYPE = 'application/json';
const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 12, arbitrary: fc.constant(JSON_TYPE) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      'text/plain',
      'application/json; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'APPLICATION/JSON',
      'application/jsonx',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).filter((s) => /^[\x21-\x7e]+$/.test(s)) },
);

const authMode: fc.Arbitrary<AuthMode> = fc.oneof(
  { weight: 12, arbitrary: fc.constant('valid' as const) },
  {
    weight: 4,
    arbitrary: fc.constantFrom<AuthMode>(
      'none',
      'empty',
      'garbage',
      'unknown-key',
      'expired',
      'future',
      'long-lived',
      'other-body',
      'oversized',
    ),
  },
);

/** Recipes for an endpoint whose valid message has these paths. */
export const recipes = (paths: readonly (readonly string[])[]): fc.Arbitrary<Recipe> => {
  const body: fc.Arbitrary<Body> = fc.oneof(
    {
      weight: 10,
      arbitrary: fc.record({
        kind: fc.constant('mutate' as const),
        path: fc.constantFrom(...paths),
        value: badValue,
        resign: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => ({ kind: 'random-json' as const, value })) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.string({ unit: 'binary' }), fc.constantFrom('{', '{"context":', '[1,', 'null', '"x"', '\ufeff{}'))
        .map((bytes) => ({ kind: 'bytes' as const, bytes })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'valid' as const }) },
  );
  return fc.record(
    {
      body,
      contentType,
      auth: authMode,
      garbageAuth: fc.oneof(fc.string({ maxLength: 200 }), fc.constant('Signature keyId="a|b|ed25519"')),
    },
    { requiredKeys: ['body', 'contentType', 'auth'] },
  );
};

const HOLE = '@@resilience-hole@@';

/** JSON text of `base` with the field at `path` replaced (or removed); big values are spliced in as text. */
export const mutatedText = (base: unknown, path: readonly string[], v: BadValue): string => {
  const copy = structuredClone(base) as Record<string, unknown>;
  let parent: Record<string, unknown> = copy;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
  const last = path[path.length - 1] as string;
  if (v.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
    return JSON.stringify(copy);
  }
  if (v.kind === 'json') {
    parent[last] = v.value;
    return JSON.stringify(copy);
  }
  parent[last] = HOLE;
  const text =
    v.kind === 'huge-string'
      ? JSON.stringify('x'.repeat(v.n))
      : v.kind === 'huge-array'
        ? `[${new Array<string>(v.n).fill('{"id":"x","a":[1]}').join(',')}]`
        : v.kind === 'deep'
          ? `${'['.repeat(v.n)}${']'.repeat(v.n)}`
          : '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';
  return JSON.stringify(copy).replace(JSON.stringify(HOLE), () => text);
};

/** A key never registered anywhere, to sign with an unknown keyId. */
const stranger: Signer = signerFromPrivateKey('stranger.resilience', 'k-unknown', generateKeyPair().seedBase64);

const header = (text: string, signer: Signer, created: number, expires: number): string =>
  signBody({
    body: text,
    subscriberId: signer.subscriberId,
    uniqueKeyId: signer.uniqueKeyId,
    created,
    expires,
    sign: (d) => signer.sign(d),
  }).header;

export interface Materialised {
  readonly body: Buffer | undefined;
  readonly headers: Record<string, string>;
}

/**
 * The bytes and headers of a recipe for an endpoint with a valid message `base` (built fresh for
 * `nowMs`), signed by `signer` (undefined: an endpoint that takes no signature).
 */
export const materialise = (
  r: Recipe,
  base: unknown,
  signer: Signer | undefined,
  nowMs: number,
  headerName = 'authorization',
): Materialised => {
  const validText = JSON.stringify(base);
  const text =
    r.body.kind === 'valid'
      ? validText
      : r.body.kind === 'mutate'
        ? mutatedText(base, r.body.path, r.body.value)
        : r.body.kind === 'random-json'
          ? JSON.stringify(r.body.value ?? null)
          : r.body.kind === 'bytes'
            ? r.body.bytes
            : '';
  // A mutation sent under the valid message's signature is tampering; re-signed it is a sender's own mistake.
  const signedText = r.body.kind === 'mutate' && !r.body.resign ? validText : text;
  const created = Math.floor(nowMs / 1000);
  const headers: Record<string, string> = {};
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  const auth = ((): string | undefined => {
    if (!signer) return r.auth === 'garbage' ? (r.garbageAuth ?? '') : undefined;
    switch (r.auth) {
      case 'valid':
        return header(signedText, signer, created, created + 30);
      case 'none':
        return undefined;
      case 'empty':
        return '';
      case 'garbage':
        return r.garbageAuth ?? 'x';
      case 'unknown-key':
        return header(signedText, stranger, created, created + 30);
      case 'expired':
        return header(signedText, signer, created - 120, created - 60);
      case 'future':
        return header(signedText, signer, created + 600, created + 630);
      case 'long-lived':
        return header(signedText, signer, created, created + 10 * 365 * 86_400);
      case 'other-body':
        return header(`${signedText} `, signer, created, created + 30);
      case 'oversized':
        return `${header(signedText, signer, created, created + 30)},pad="${'a'.repeat(6000)}"`;
      default:
        return r.auth satisfies never;
    }
  })();
  if (auth !== undefined) headers[headerName] = auth.replace(/[^\t\x20-\x7e]/g, '?');
  return { body: r.body.kind === 'empty' ? undefined : Buffer.from(text, 'utf8'), headers };
};
