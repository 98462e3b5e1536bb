// Checks on what callers hand the store. A bad value here is a bug in the calling agent, not a
// user's mistake, so it is FLX_INTERNAL; the message names the field so the bug is quick to find.
// Nothing is written when a check fails.
import { FlexError } from '../../errors.ts';

export const bad = (what: string, field: string, why: string): FlexError =>
  new FlexError('FLX_INTERNAL', `${what}: ${field} ${why}`, { path: field });

export const text = (what: string, field: string, v: unknown): string => {
  if (typeof v !== 'string' || v === '')
    throw bad(what, field, `must be a non-empty string, got ${JSON.stringify(v) ?? String(v)}`);
  return noNul(what, field, v);
};

/** PostgreSQL text cannot hold U+0000 (SQLite can); refused in both so the adapters agree. */
export const noNul = (what: string, field: string, v: string): string => {
  if (v.includes('\u0000')) throw bad(what, field, 'must not contain the character U+0000');
  return v;
};

export const optionalText = (what: string, field: string, v: unknown): string | null =>
  v === undefined ? null : text(what, field, v);

export const finite = (what: string, field: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(what, field, `must be a finite number, got ${String(v)}`);
  return v;
};

export const positive = (what: string, field: string, v: unknown): number => {
  if (finite(what, field, v) <= 0) throw bad(what, field, `must be positive, got ${String(v)}`);
  return v as number;
};

export const count = (what: string, field: string, v: unknown): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw bad(what, field, `must be a whole number of at least 1, got ${String(v)}`);
  return v;
};
