// Reading a JSON config file into typed values, failing fast with FLX_CONFIG_INVALID naming the
// file and the field (`sites[0].agentUrl: must be an http(s) URL, got "ftp://x"`). Relative paths in
// the file are relative to the file. Unknown fields are refused, so a typo is not silently ignored.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { nearestName, oneSlipFrom } from '../domain/nearest.ts';
import { FlexError } from '../errors.ts';
import { parseJsonText } from '../formats/json.ts';

export class ConfigReader {
  private readonly seen = new Set<string>();

  constructor(
    readonly file: string,
    readonly value: Record<string, unknown>,
    readonly path = '',
  ) {}

  static load(file: string): ConfigReader {
    const abs = resolve(file);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (e) {
      throw new FlexError(
        'FLX_CONFIG_INVALID',
        `cannot read config file ${abs}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        { path: '--config' },
      );
    }
    let parsed: unknown;
    try {
      parsed = parseJsonText(text, abs);
    } catch (e) {
      throw new FlexError('FLX_CONFIG_INVALID', `config ${(e as Error).message}`, { path: '--config' });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new FlexError('FLX_CONFIG_INVALID', `config file ${abs} must hold a JSON object`, { path: '--config' });
    return new ConfigReader(abs, parsed as Record<string, unknown>);
  }

  private at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  fail(key: string, why: string): never {
    // A missing field that a field present here, and not read as another, is one slip away from
    // ({"prot": 4720} for port): name it, since the error would otherwise point only at what is absent.
    const typo =
      this.value[key] === undefined
        ? Object.keys(this.value).find((k) => !this.seen.has(k) && oneSlipFrom(k, key))
        : undefined;
    const hint =
      typo === undefined ? '' : ` (this object has ${JSON.stringify(typo)}, not a known field: did you mean ${key}?)`;
    throw new FlexError('FLX_CONFIG_INVALID', `${this.file}: ${this.at(key)}: ${why}${hint}`, { path: this.at(key) });
  }

  private raw(key: string): unknown {
    this.seen.add(key);
    return this.value[key];
  }

  has(key: string): boolean {
    return this.value[key] !== undefined;
  }

  string(key: string, fallback?: string): string {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'string' || v.trim() === '')
      this.fail(
        key,
        v === undefined ? 'is required (a string)' : `must be a non-empty string, got ${JSON.stringify(v)}`,
      );
    return v;
  }

  optionalString(key: string): string | undefined {
    return this.has(key) ? this.string(key) : (this.raw(key), undefined);
  }

  number(key: string, fallback: number | undefined, lo: number, hi: number, integer = false): number {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
      this.fail(
        key,
        `${v === undefined ? 'is required: ' : ''}must be ${integer ? 'a whole number' : 'a number'} from ${lo} to ${hi}${v === undefined ? '' : `, got ${JSON.stringify(v)}`}`,
      );
    }
    return v;
  }

  boolean(key: string, fallback: boolean): boolean {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v))
      this.fail(key, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    return v as T;
  }

  url(key: string, fallback?: string): string {
    const v = this.string(key, fallback);
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      return this.fail(key, `must be an http(s) URL, got ${JSON.stringify(v)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      this.fail(key, `must be an http(s) URL, got ${JSON.stringify(v)}`);
    return v.replace(/\/+$/, '');
  }

  /** A file or directory path, resolved against the config file's directory. */
  filePath(key: string, fallback?: string): string {
    return resolve(dirname(this.file), this.string(key, fallback));
  }

  time(key: string, fallback?: string): number {
    const v = this.string(key, fallback);
    const t = Date.parse(v);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(v) || Number.isNaN(t))
      this.fail(key, `must be an RFC 3339 date-time, got ${JSON.stringify(v)}`);
    return t;
  }

  object(key: string, fallback?: Record<string, unknown>): ConfigReader {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      this.fail(key, v === undefined ? 'is required (an object)' : 'must be an object');
    return new ConfigReader(this.file, v as Record<string, unknown>, this.at(key));
  }

  optionalObject(key: string): ConfigReader | undefined {
    return this.has(key) ? this.object(key) : (this.raw(key), undefined);
  }

  array(key: string, min = 0): ConfigReader[] {
    const v = this.raw(key);
    if (!Array.isArray(v) || v.length < min) this.fail(key, `must be a list of at least ${min} object(s)`);
    return v.map((x, k) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) this.fail(`${key}[${k}]`, 'must be an object');
      return new ConfigReader(this.file, x as Record<string, unknown>, this.at(`${key}[${k}]`));
    });
  }

  strings(key: string, fallback?: readonly string[]): string[] {
    const v = this.raw(key) ?? fallback;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(key, 'must be a list of strings');
    return [...(v as string[])];
  }

  /** A list of exactly `length` numbers, each from lo to hi. */
  numbers(key: string, length: number, lo: number, hi: number): number[] {
    const v = this.raw(key);
    if (
      !Array.isArray(v) ||
      v.length !== length ||
      v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < lo || x > hi)
    )
      this.fail(key, `must be a list of ${length} numbers from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
    return [...(v as number[])];
  }

  /** Refuses fields nobody read (call after reading the object). */
  done(): void {
    const extra = Object.keys(this.value).filter((k) => !this.seen.has(k));
    // The field a misspelt one most likely meant, among those read here (floorGbpPerMWh: floorGbpPerMwh).
    const near = extra[0] === undefined ? undefined : nearestName(extra[0], [...this.seen]);
    if (extra.length > 0)
      this.fail(
        extra[0] ?? '',
        `is not a known field here${near ? `: did you mean ${near}?` : ''}${extra.length > 1 ? ` (nor ${extra.slice(1).join(', ')})` : ''}`,
      );
  }
}
