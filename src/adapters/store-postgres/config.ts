// Where the PostgreSQL store lives, validated at start-up. The password is a secret, so it is given
// by reference (a file, FLEXLON_PG_PASSWORD_FILE) or inside the connection string; either way it
// never appears in `location`, in a message or in a log line (`redactUrl`).
import { readFileSync } from 'node:fs';
import { FlexError } from '../../errors.ts';

export interface PostgresStoreOptions {
  /** A postgresql:// connection string. */
  readonly url: string;
  /** A file whose first line is the password (kept out of the connection string and the environment). */
  readonly passwordFile?: string;
  /** The schema holding this agent's tables, created if missing: one per agent, each its own audit chain. */
  readonly schema: string;
  /** Who opens the store (an agent's subscriber id); recorded against any migration it applies. */
  readonly actor?: string;
  /** Pool size (default 5). */
  readonly maxConnections?: number;
  /** How long to wait for a connection before failing with FLX_STORE_UNAVAILABLE (default 5000 ms). */
  readonly connectTimeoutMs?: number;
}

export const ENV = { url: 'FLEXLON_PG_URL', passwordFile: 'FLEXLON_PG_PASSWORD_FILE' } as const;

const invalid = (field: string, why: string): FlexError =>
  new FlexError('FLX_CONFIG_INVALID', `${field}: ${why}`, { path: field });

/** The connection string with any password removed, for `location` and messages. Never echoes an unparseable string. */
export const redactUrl = (url: string): string => {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(a connection string that is not a URL)';
  }
  if (u.password !== '') u.password = '';
  for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.delete(key);
  return u.toString();
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks the options; the message names the field (or environment variable) and never the password. */
export const checkOptions = (
  o: PostgresStoreOptions,
  names: { url: string; schema: string } = { url: 'url', schema: 'schema' },
): URL => {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw invalid(
      names.url,
      'must be a connection string like postgresql://user@host:5432/database (the value given is not a URL; it is not shown, as it may hold a password)',
    );
  }
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:')
    throw invalid(names.url, `must start with postgresql://, not ${u.protocol}//`);
  if (u.searchParams.has('options'))
    throw invalid(names.url, 'must not set "options": FlexLon sets the search_path to the store schema itself');
  if (o.passwordFile !== undefined && u.password !== '')
    throw invalid(names.url, 'holds a password and a password file is given as well: use one of them');
  if (!SCHEMA_NAME.test(o.schema))
    throw invalid(
      names.schema,
      `must be a lower-case SQL name (letters, digits, _; at most 63), got ${JSON.stringify(o.schema)}`,
    );
  return u;
};

/** Reads the password file: its first line, without the line end. */
export const readPassword = (path: string, field: string = ENV.passwordFile): string => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw invalid(
      field,
      `cannot read the password file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '') throw invalid(field, `the password file ${path} is empty`);
  return password;
};

/** The options for the store of one agent in `schema`, from FLEXLON_PG_URL and FLEXLON_PG_PASSWORD_FILE. */
export const postgresOptionsFromEnv = (
  env: NodeJS.ProcessEnv,
  schema: string,
  actor?: string,
): PostgresStoreOptions => {
  const url = env[ENV.url];
  if (url === undefined || url.trim() === '')
    throw invalid(
      ENV.url,
      'is not set; it must be a connection string like postgresql://flexlon@db.example:5432/flexlon',
    );
  const passwordFile = env[ENV.passwordFile];
  const options: PostgresStoreOptions = {
    url,
    schema,
    ...(passwordFile ? { passwordFile } : {}),
    ...(actor === undefined ? {} : { actor }),
  };
  checkOptions(options, { url: ENV.url, schema: 'schema' });
  return options;
};
