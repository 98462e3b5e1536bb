// Strict parsing of a Beckn `Authorization` / `X-Gateway-Authorization` header value.
// Accepted: `Signature` scheme, comma-separated key="value" pairs (spaces after commas tolerated, as
// in the BECKN-006 gateway example), each parameter at most once, all six parameters present,
// keyId of the form subscriber_id|unique_key_id|algorithm with algorithm equal to `algorithm`
// (BECKN-006 Step 2, item 3), created/expires as Unix-second integers, signature as base64.
import { FlexError } from '../errors.ts';
import type { SignatureParams } from './signing.ts';

const PARAM = /^\s*([a-zA-Z]+)="([^"]*)"\s*$/;
const REQUIRED = ['keyId', 'algorithm', 'created', 'expires', 'headers', 'signature'] as const;
const MAX_HEADER_LENGTH = 2048;

const malformed = (why: string): FlexError =>
  new FlexError('FLX_SIG_MALFORMED', `the Authorization header is malformed: ${why}`);

export const parseAuthorization = (value: string | undefined): SignatureParams => {
  if (value === undefined || value.trim() === '') throw new FlexError('FLX_SIG_MISSING');
  if (value.length > MAX_HEADER_LENGTH) throw malformed(`longer than ${MAX_HEADER_LENGTH} characters`);
  const m = /^Signature\s+(.*)$/s.exec(value.trim());
  if (!m || m[1] === undefined) throw malformed('the scheme must be "Signature"');
  const params = new Map<string, string>();
  for (const part of m[1].split(',')) {
    const p = PARAM.exec(part);
    if (!p || p[1] === undefined || p[2] === undefined)
      throw malformed(`cannot read parameter ${JSON.stringify(part.trim().slice(0, 40))}`);
    if (params.has(p[1])) throw malformed(`parameter ${p[1]} appears twice`);
    params.set(p[1], p[2]);
  }
  for (const k of REQUIRED) if (!params.has(k)) throw malformed(`parameter ${k} is missing`);
  const get = (k: (typeof REQUIRED)[number]): string => params.get(k) as string;
  const keyParts = get('keyId').split('|');
  if (keyParts.length !== 3 || keyParts.some((x) => x === ''))
    throw malformed('keyId must be subscriber_id|unique_key_id|algorithm');
  const [subscriberId, uniqueKeyId, keyAlg] = keyParts as [string, string, string];
  const algorithm = get('algorithm');
  if (algorithm !== 'ed25519')
    throw new FlexError('FLX_SIG_ALGORITHM', `the signature algorithm is "${algorithm}", not ed25519`);
  if (keyAlg !== algorithm)
    throw new FlexError(
      'FLX_SIG_ALGORITHM',
      `the keyId names algorithm "${keyAlg}" but the header says "${algorithm}"`,
    );
  const int = (k: 'created' | 'expires'): number => {
    const s = get(k);
    if (!/^\d{1,12}$/.test(s)) throw malformed(`${k} must be a Unix timestamp in seconds`);
    return Number(s);
  };
  const created = int('created');
  const expires = int('expires');
  if (expires < created) throw malformed('expires is before created');
  const headers = get('headers');
  if (headers !== '(created) (expires) digest')
    throw malformed(`headers must be "(created) (expires) digest", not "${headers}"`);
  const signature = get('signature');
  if (!/^[A-Za-z0-9+/]{86}==$/.test(signature)) throw malformed('signature must be the base64 of 64 bytes');
  // Canonical base64 only: the last character's unused bits must be zero, so one signature has
  // exactly one spelling (a header cannot be changed and still verify).
  if (Buffer.from(signature, 'base64').toString('base64') !== signature)
    throw malformed('signature is not canonical base64 (unused bits set in its last character)');
  return { subscriberId, uniqueKeyId, algorithm: 'ed25519', created, expires, headers, signature };
};
