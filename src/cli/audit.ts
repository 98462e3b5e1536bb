// `flexlon audit verify`: checks stored audit trails after the fact — the hash chain of every
// database, and the signature of every stored inbound Beckn message against the keys the run's
// registry held — so an operator (or an auditor) can verify a run without trusting the process
// that wrote it.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { verifyChain, type AuditRecord } from '../audit/chain.ts';
import { openStore, type StoreConfig } from '../compose/index.ts';
import { listPostgresStores, openSqliteStore } from '../compose/tools.ts';
import { parseAuthorization } from '../beckn/auth-header.ts';
import { publicKeyFromBase64 } from '../beckn/keys.ts';
import { blake512Base64, signingString, verifySignature } from '../beckn/signing.ts';
import { FlexError } from '../errors.ts';
import type { Store, Subscription } from '../ports.ts';
import { parseFlags, type Command, type Output } from './command.ts';

const USAGE = `Usage: flexlon audit verify PATH... [--json]
       flexlon audit verify --postgres URL [--schema NAME]... [--password-file FILE] [--json]

Verifies FlexLon audit trails. PATH is a SQLite store file (.db) or a folder (every .db in it, e.g. a
demo run folder <data-dir>/runs/<run>). With --postgres, the stores are schemas in that PostgreSQL
database: each --schema named, or every schema holding a FlexLon store. For each store: the hash chain
(order, links and hashes of every record), and — where the run's registry store is among them
(registry.db beside the file, or a schema whose name ends in "registry") — the ed25519 signature of
every stored inbound Beckn message (its exact bytes and Authorization header) against the key the
registry held for the signer. Nothing is written. Exit 0 when everything verifies, 1 otherwise.

Options:
  --postgres URL        a postgresql:// connection string (no password in it: use --password-file)
  --schema NAME         a schema to verify (repeat for several; default: every FlexLon schema)
  --password-file FILE  the database password, first line of FILE
  --json                machine-readable result
  -h, --help            this help`;

interface DbResult {
  readonly file: string;
  readonly records: number;
  readonly chain: { ok: boolean; reason?: string; seq?: number };
  readonly kinds: Record<string, number>;
  readonly signatures: { checked: number; failed: { seq: number; why: string }[]; unchecked: number };
}

const databasesIn = (path: string): string[] => {
  const p = resolve(path);
  if (!existsSync(p)) throw new FlexError('FLX_CLI_USAGE', `${path}: no such file or folder`, { path: 'PATH' });
  if (statSync(p).isDirectory())
    return readdirSync(p)
      .filter((f) => f.endsWith('.db'))
      .sort()
      .map((f) => join(p, f));
  if (!p.endsWith('.db'))
    throw new FlexError('FLX_CLI_USAGE', `${path}: expected a .db file or a folder of them`, { path: 'PATH' });
  return [p];
};

const keysIn = async (store: Store): Promise<Map<string, string>> => {
  const subs = (await store.getDocument<Subscription[]>('registry', 'subscriptions')) ?? [];
  return new Map(subs.map((s) => [`${s.subscriber_id}|${s.unique_key_id}`, s.signing_public_key]));
};

const registryKeys = async (folder: string): Promise<Map<string, string> | undefined> => {
  const file = join(folder, 'registry.db');
  if (!existsSync(file)) return undefined;
  const store = await openSqliteStore(file);
  try {
    return await keysIn(store);
  } finally {
    await store.close();
  }
};

const checkSignature = (r: AuditRecord, keys: Map<string, string>): string | undefined => {
  const p = r.payload as { body?: unknown; authorization?: unknown };
  if (typeof p.body !== 'string' || typeof p.authorization !== 'string')
    return 'no stored body or Authorization header';
  let h;
  try {
    h = parseAuthorization(p.authorization);
  } catch (e) {
    return (e as Error).message;
  }
  const pub = keys.get(`${h.subscriberId}|${h.uniqueKeyId}`);
  if (pub === undefined) return `the registry held no key ${h.uniqueKeyId} for ${h.subscriberId}`;
  const ok = verifySignature(
    publicKeyFromBase64(pub),
    signingString(h.created, h.expires, blake512Base64(p.body)),
    h.signature,
  );
  return ok ? undefined : 'the signature does not verify over the stored bytes';
};

/** Verifies one store; `name` is how the report names it (a file, or a schema). */
const verifyStore = async (
  name: string,
  open: () => Promise<Store>,
  keys: Map<string, string> | undefined,
): Promise<DbResult> => {
  const store = await open();
  let trail: AuditRecord[];
  try {
    trail = await store.auditTrail();
  } finally {
    await store.close();
  }
  const file = name;
  const verdict = verifyChain(trail);
  const kinds: Record<string, number> = {};
  for (const r of trail) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
  const signatures: DbResult['signatures'] = { checked: 0, failed: [], unchecked: 0 };
  for (const r of trail.filter((x) => x.kind === 'beckn.in')) {
    if (!keys) {
      signatures.unchecked++;
      continue;
    }
    const why = checkSignature(r, keys);
    signatures.checked++;
    if (why) signatures.failed.push({ seq: r.seq, why });
  }
  return {
    file,
    records: trail.length,
    chain: verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason, seq: verdict.seq },
    kinds,
    signatures,
  };
};

/**
 * The stores of a PostgreSQL database: the schemas named, or every schema holding a FlexLon store.
 * A named schema that holds none is an error (opening it would create it).
 */
const verifyPostgres = async (url: string, named: readonly string[], passwordFile?: string): Promise<DbResult[]> => {
  const conn = { url, ...(passwordFile === undefined ? {} : { passwordFile: resolve(passwordFile) }) };
  const present = await listPostgresStores(conn);
  const missing = named.filter((s) => !present.includes(s));
  if (missing.length > 0)
    throw new FlexError(
      'FLX_CLI_USAGE',
      `no FlexLon store in schema ${missing.join(', ')} (the database has: ${present.join(', ') || 'none'})`,
      { path: '--schema' },
    );
  const schemas = named.length > 0 ? [...named] : present;
  if (schemas.length === 0)
    throw new FlexError('FLX_CLI_USAGE', 'the database holds no FlexLon store', { path: '--postgres' });
  const config = (schema: string): StoreConfig => ({ kind: 'postgres', ...conn, schema });
  const registry = schemas.filter((s) => s.endsWith('registry'));
  let keys: Map<string, string> | undefined;
  if (registry.length === 1) {
    const store = await openStore(config(registry[0] as string), 'flexlon-audit');
    try {
      keys = await keysIn(store);
    } finally {
      await store.close();
    }
  }
  const out: DbResult[] = [];
  for (const schema of schemas)
    out.push(await verifyStore(`schema ${schema}`, () => openStore(config(schema), 'flexlon-audit'), keys));
  return out;
};

const report = (r: DbResult, io: Output): void => {
  const kinds = Object.entries(r.kinds)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  io.out(
    `${r.chain.ok ? 'intact' : 'BROKEN'}  ${r.file.startsWith('schema ') ? r.file : basename(r.file)}: ${r.records} records${kinds ? ` (${kinds})` : ''}`,
  );
  if (!r.chain.ok) io.out(`        chain broken at record ${r.chain.seq}: ${r.chain.reason}`);
  const s = r.signatures;
  if (s.checked > 0) io.out(`        ${s.checked - s.failed.length} of ${s.checked} inbound signatures verify`);
  for (const f of s.failed) io.out(`        record ${f.seq}: ${f.why}`);
  if (s.unchecked > 0) io.out(`        ${s.unchecked} inbound signatures not checked (no registry store beside it)`);
};

export const auditCommand: Command = {
  name: 'audit',
  summary: 'verify stored audit trails: hash chains and inbound signatures',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub !== 'verify') throw new FlexError('FLX_CLI_USAGE', `unknown audit command "${sub ?? ''}"\n\n${USAGE}`);
    const { values, positionals } = parseFlags(
      rest,
      {
        json: { type: 'boolean' },
        postgres: { type: 'string' },
        schema: { type: 'string', multiple: true },
        'password-file': { type: 'string' },
      },
      USAGE,
      true,
    );
    const results: DbResult[] = [];
    if (values.postgres !== undefined) {
      if (positionals.length > 0)
        throw new FlexError('FLX_CLI_USAGE', `give .db paths or --postgres, not both\n\n${USAGE}`, { path: 'PATH' });
      results.push(...(await verifyPostgres(values.postgres, values.schema ?? [], values['password-file'])));
    } else {
      if (values.schema !== undefined || values['password-file'] !== undefined)
        throw new FlexError('FLX_CLI_USAGE', `--schema and --password-file go with --postgres\n\n${USAGE}`);
      if (positionals.length === 0)
        throw new FlexError('FLX_CLI_USAGE', `name at least one .db file or folder, or --postgres URL\n\n${USAGE}`);
      for (const path of positionals) {
        for (const file of databasesIn(path))
          results.push(await verifyStore(file, () => openSqliteStore(file), await registryKeys(dirname(file))));
      }
      if (results.length === 0) throw new FlexError('FLX_CLI_USAGE', `no .db files in ${positionals.join(', ')}`);
    }
    if (values.json) io.out(JSON.stringify(results, null, 2));
    else for (const r of results) report(r, io);
    return results.every((r) => r.chain.ok && r.signatures.failed.length === 0) ? 0 : 1;
  },
};
