// Reading saved API responses: JSON syntax errors become "file: line L, column C: …", and shape
// errors name the JSON path of the field ("data[12].intensity.forecast") and what was expected.
import { readFileSync } from 'node:fs';
import { FlexError } from '../errors.ts';

/** Whether `prefix` could still be the start of valid JSON (it fails, if at all, only at its end). */
const viable = (prefix: string): boolean => {
  try {
    JSON.parse(prefix);
    return true;
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    return /Unexpected end of JSON input/.test(msg) || (pos !== null && Number(pos[1]) >= prefix.length);
  }
};

/** Index of the first character that makes `text` invalid JSON: the longest viable prefix, by bisection. */
const errorIndex = (text: string): number => {
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (viable(text.slice(0, mid))) lo = mid;
    else hi = mid - 1;
  }
  return lo;
};

export const parseJsonText = (text: string, file: string): unknown => {
  const body = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(body);
  } catch (e) {
    const msg = (e as Error).message
      .replace(/ in JSON at position \d+.*$/, '')
      .replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, '');
    const at = Math.min(errorIndex(body), body.length);
    const before = body.slice(0, at);
    const line = before.split('\n').length;
    const column = before.length - before.lastIndexOf('\n');
    throw new FlexError('FLX_DATA_INVALID', `${file}: line ${line}, column ${column}: not valid JSON (${msg})`);
  }
};

export const readJsonFile = (file: string): unknown => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FlexError('FLX_DATA_INVALID', `cannot read ${file}: ${(e as Error).message}`);
  }
  return parseJsonText(text, file);
};

const shape = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'object'
        ? 'an object'
        : `${typeof v} ${JSON.stringify(v)}`;

/** Typed access to parsed JSON that reports the file and path of any wrong field. */
export class JsonReader {
  constructor(readonly file: string) {}

  fail(path: string, expected: string, got: unknown): FlexError {
    return new FlexError('FLX_DATA_INVALID', `${this.file}: field ${path}: expected ${expected}, found ${shape(got)}`, {
      path,
    });
  }

  object(v: unknown, path: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw this.fail(path, 'an object', v);
    return v as Record<string, unknown>;
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) throw this.fail(path, 'an array', v);
    return v;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') throw this.fail(path, 'a string', v);
    return v;
  }

  /** A number, or undefined for null/absent (the APIs write null for "not known yet"). */
  optionalNumber(v: unknown, path: string): number | undefined {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.fail(path, 'a number or null', v);
    return v;
  }

  number(v: unknown, path: string): number {
    const n = this.optionalNumber(v, path);
    if (n === undefined) throw this.fail(path, 'a number', v);
    return n;
  }

  /** An API timestamp ("2023-01-01T00:00Z", "2024-01-01T00:00:00Z") as epoch ms. */
  time(v: unknown, path: string): number {
    const s = this.string(v, path);
    const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) ? Date.parse(s) : NaN;
    if (Number.isNaN(t)) throw this.fail(path, 'a UTC timestamp like 2023-01-01T00:00Z', v);
    return t;
  }
}
