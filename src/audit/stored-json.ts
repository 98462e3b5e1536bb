// Everything the store keeps (audit payloads, orders, documents) is JSON text, and what it hands
// back is the value parsed from that text. The audit hash is therefore computed over the parsed
// value, not over the caller's object: canonicalJson and JSON.stringify disagree on anything that
// is not plain JSON (a Date hashes as {} but is stored as its ISO string), so hashing the caller's
// object could write a record that fails verification as soon as it is read back.
//
// Consequences callers can rely on (and the contract suite checks): a stored value comes back
// equal to JSON.parse(JSON.stringify(value)). So -0 comes back as 0 (canonical JSON writes both as
// 0, so the hash is the same), toJSON() is applied, undefined members vanish, and an own key
// "__proto__" stays an ordinary own key (JSON.parse defines it; it never sets a prototype).
// Values JSON cannot carry are refused rather than silently changed: non-finite numbers (which
// JSON.stringify would turn into null), BigInt, cycles, and a top-level undefined or function.
//
// Every Store adapter (SQLite, PostgreSQL) uses these functions, so the same entry hashes the same
// whichever database holds it.
import { FlexError } from '../errors.ts';
import type { AuditEntry } from './chain.ts';

export interface StoredJson {
  /** The text written to the database. */
  readonly text: string;
  /** The value read back from that text: what the store returns, and what the hash covers. */
  readonly value: unknown;
}

export const toStoredJson = (value: unknown, what: string): StoredJson => {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        throw new FlexError(
          'FLX_INTERNAL',
          `${what} holds the number ${v}${key === '' ? '' : ` at key ${JSON.stringify(key)}`}, which JSON cannot carry`,
        );
      }
      return v;
    });
  } catch (e) {
    if (e instanceof FlexError) throw e;
    throw new FlexError(
      'FLX_INTERNAL',
      `${what} is not JSON-serialisable: ${e instanceof Error ? e.message : String(e)}`,
      { cause: e },
    );
  }
  if (text === undefined)
    throw new FlexError(
      'FLX_INTERNAL',
      `${what} is not JSON-serialisable: it is ${value === undefined ? 'undefined' : `a ${typeof value}`}`,
    );
  return { text, value: JSON.parse(text) as unknown };
};

/** Parses text the store wrote; text that is not JSON was changed outside FlexLon. */
export const fromStoredJson = (text: string, where: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new FlexError('FLX_DATA_INVALID', `${where} is not valid JSON; it was changed outside FlexLon`, { cause: e });
  }
};

/**
 * The entry as it will read back (optional ids only when present, payload as parsed JSON) and the
 * payload text to store. Adapters link (hash) the returned entry, never the caller's object.
 */
export const normaliseAuditEntry = (entry: AuditEntry): { entry: AuditEntry; payloadText: string } => {
  const bad = (field: string, why: string) =>
    new FlexError('FLX_INTERNAL', `an audit entry's ${field} ${why}`, { path: field });
  if (typeof entry.kind !== 'string' || (entry.kind as string) === '') throw bad('kind', 'must be a non-empty string');
  if (typeof entry.at !== 'number' || !Number.isFinite(entry.at))
    throw bad('at', `must be a finite number (epoch ms), got ${String(entry.at)}`);
  if (typeof entry.actor !== 'string' || entry.actor === '') throw bad('actor', 'must be a non-empty string');
  for (const f of ['transactionId', 'messageId', 'orderId'] as const) {
    if (entry[f] !== undefined && typeof entry[f] !== 'string') throw bad(f, 'must be a string when present');
  }
  // PostgreSQL text cannot hold U+0000; refused for every store so that all of them agree.
  for (const f of ['kind', 'actor', 'transactionId', 'messageId', 'orderId'] as const) {
    if (entry[f]?.includes('\u0000') === true) throw bad(f, 'must not contain the character U+0000');
  }
  const payload = toStoredJson(entry.payload, `the payload of a ${entry.kind} audit entry`);
  return {
    payloadText: payload.text,
    entry: {
      kind: entry.kind,
      at: entry.at,
      actor: entry.actor,
      ...(entry.transactionId === undefined ? {} : { transactionId: entry.transactionId }),
      ...(entry.messageId === undefined ? {} : { messageId: entry.messageId }),
      ...(entry.orderId === undefined ? {} : { orderId: entry.orderId }),
      payload: payload.value,
    },
  };
};
