// `flexlon audit verify`: checks stored audit trails after the fact — the hash chain of every
// database, and the signature of every stored inbound Beckn message against the keys the run's
// registry held — so an operator (or an auditor) can verify a run without trusting the process
// that wrote it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { verifyChain, type AuditRecord } from '../audit/chain.ts';
import {
  HEAD_KIND,
  HEAD_TAG_GROUP,
  headFromTags,
  isSignedHead,
  verifyHeads,
  verifyStateRows,
  type SignedHead,
} from '../audit/heads.ts';
import { openStore, type StoreConfig } from '../compose/index.ts';
import { listPostgresStores, openSqliteStore } from '../compose/tools.ts';
import { parseAuthorization } from '../beckn/auth-header.ts';
import { publicKeyFromBase64 } from '../beckn/keys.ts';
import { blake512Base64, signingString, verifySignature } from '../beckn/signing.ts';
import { FlexError } from '../errors.ts';
import type { Store, Subscription } from '../ports.ts';
import { EXPORT_USAGE, runExport, runVerifyExport } from './audit-export.ts';
import { parseFlags, type Command, type Output } from './command.ts';

const USAGE = `Usage: flexlon audit verify PATH... [--head FILE]... [--json]
       flexlon audit export PATH... --transaction ID [--format json|csv] [--out FILE]
       flexlon audit verify --export FILE
       flexlon audit verify --postgres URL [--schema NAME]... [--password-file FILE] [--json]

Verifies FlexLon audit trails. PATH is a SQLite store file (.db) or a folder (every .db in it, e.g. a
demo run folder <data-dir>/runs/<run>). With --postgres, the stores are schemas in that PostgreSQL
database: each --schema named, or every schema holding a FlexLon store. For each store: the hash chain
(order, links and hashes of every record), and — where the run's registry store is among them
(registry.db beside the file, or a schema whose name ends in "registry") — the ed25519 signature of
every stored inbound Beckn message (its exact bytes and Authorization header) against the key the
registry held for the signer; and the signed chain heads: each head in a log, and those its
counterparties hold for it (kept from on_status in the other stores beside it, or --head), must vouch
for the records as they are now, every settlement and state row must have a head, and the orders and
commitments tables must match the digests the log wrote. Nothing is written. Exit 0 when everything
verifies, 1 otherwise.

Options:
  --postgres URL        a postgresql:// connection string (no password in it: use --password-file)
  --schema NAME         a schema to verify (repeat for several; default: every FlexLon schema)
  --password-file FILE  the database password, first line of FILE
  --head FILE           a signed chain head a counterparty holds (JSON: one head or a list), checked
                        against the store it names (detects truncation and rewrites)
  --json                machine-readable result
  -h, --help            this help`;

interface DbResult {
  readonly file: string;
  readonly records: number;
  readonly chain: { ok: boolean; reason?: string; seq?: number };
  /** Signed heads (src/audit/heads.ts): in the log, and those the counterparties hold for it. */
  heads: {
    ok: boolean;
    reason?: string;
    seq?: number;
    verified: number;
    vouchedTo: number;
    unchecked: number;
    held: number;
  };
  /** State tables (orders, commitments) against the digests the log wrote for them. */
  state: { ok: boolean; reason?: string; rows: number };
  readonly kinds: Record<string, number>;
  readonly signatures: { checked: number; failed: { seq: number; why: string }[]; unchecked: number };
}

/** A head given on the command line (--head FILE): one SignedHead, or a list, as JSON. */
const readHeadFile = (file: string): SignedHead[] => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(resolve(file), 'utf8'));
  } catch (e) {
    throw new FlexError('FLX_CLI_USAGE', `--head ${file}: not a readable JSON file (${(e as Error).message})`, {
      path: '--head',
    });
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const bad = list.findIndex((h) => !isSignedHead(h));
  if (bad >= 0)
    throw new FlexError(
      'FLX_CLI_USAGE',
      `--head ${file}: entry ${bad} is not a signed head ({v: 1, actor, keyId, seq, hash, at, signature})`,
      { path: '--head' },
    );
  return list as SignedHead[];
};

export const databasesIn = (path: string): string[] => {
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
interface Read {
  readonly result: DbResult;
  readonly trail: AuditRecord[];
  /** Whose log it is (the actor of its heads), and the heads of other logs it holds. */
  readonly actor: string | undefined;
  readonly holds: SignedHead[];
  readonly rows: { table: 'orders' | 'commitments'; key: string; row: unknown }[];
}

/** Heads of other participants' logs that arrived in this store's inbound messages (on_status tags). */
const heldHeads = (trail: readonly AuditRecord[]): SignedHead[] =>
  trail.flatMap((r) => {
    if (r.kind !== 'beckn.in') return [];
    const body = (r.payload as { body?: unknown }).body;
    if (typeof body !== 'string' || !body.includes(HEAD_TAG_GROUP)) return [];
    try {
      const m = JSON.parse(body) as { message?: { order?: { tags?: unknown } } };
      const h = headFromTags(m.message?.order?.tags);
      return h ? [h] : [];
    } catch {
      return [];
    }
  });

const verifyStore = async (
  name: string,
  open: () => Promise<Store>,
  keys: Map<string, string> | undefined,
): Promise<Read> => {
  const store = await open();
  let trail: AuditRecord[];
  let rows: Read['rows'];
  try {
    trail = await store.auditTrail();
    rows = [
      ...(await store.listOrders()).map((o) => ({ table: 'orders' as const, key: o.id, row: o })),
      ...(await store.listCommitments()).map((c) => ({
        table: 'commitments' as const,
        key: `${c.orderId}|${c.site}`,
        row: c,
      })),
    ];
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
  const own = trail.find((r) => r.kind === HEAD_KIND);
  return {
    result: {
      file,
      records: trail.length,
      chain: verdict.ok ? { ok: true } : { ok: false, reason: verdict.reason, seq: verdict.seq },
      heads: { ok: true, verified: 0, vouchedTo: 0, unchecked: 0, held: 0 },
      state: { ok: true, rows: 0 },
      kinds,
      signatures,
    },
    trail,
    actor: own ? (own.payload as SignedHead).actor : undefined,
    holds: heldHeads(trail),
    rows,
  };
};

/**
 * The heads of every store, checked once all are read: each store's own heads, the heads the others
 * (its counterparties) and `given` hold for it, and its state rows when it signs heads at all.
 */
const checkHeads = (reads: readonly Read[], keys: Map<string, string> | undefined, given: readonly SignedHead[]) => {
  const keyOf = (actor: string, keyId: string) => keys?.get(`${actor}|${keyId}`);
  for (const x of reads) {
    const held = x.actor
      ? [...reads.filter((o) => o !== x).flatMap((o) => o.holds), ...given].filter((h) => h.actor === x.actor)
      : [];
    const v = verifyHeads(x.trail, keyOf, held);
    x.result.heads = v.ok
      ? { ok: true, verified: v.heads, vouchedTo: v.vouchedTo, unchecked: v.unchecked, held: held.length }
      : { ok: false, reason: v.reason, seq: v.seq, verified: 0, vouchedTo: 0, unchecked: 0, held: held.length };
    if (x.actor) {
      const s = verifyStateRows(x.trail, x.rows);
      x.result.state = s.ok ? { ok: true, rows: s.rows } : { ok: false, reason: s.reason, rows: x.rows.length };
    }
  }
};

/**
 * The stores of a PostgreSQL database: the schemas named, or every schema holding a FlexLon store.
 * A named schema that holds none is an error (opening it would create it).
 */
export const postgresStores = async (
  url: string,
  named: readonly string[],
  passwordFile: string | undefined,
): Promise<{ schemas: string[]; config: (schema: string) => StoreConfig }> => {
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
  return { schemas, config: (schema) => ({ kind: 'postgres', ...conn, schema }) };
};

const verifyPostgres = async (
  url: string,
  named: readonly string[],
  passwordFile: string | undefined,
  given: readonly SignedHead[],
): Promise<DbResult[]> => {
  const { schemas, config } = await postgresStores(url, named, passwordFile);
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
  const out: Read[] = [];
  for (const schema of schemas)
    out.push(await verifyStore(`schema ${schema}`, () => openStore(config(schema), 'flexlon-audit'), keys));
  checkHeads(out, keys, given);
  return out.map((x) => x.result);
};

const report = (r: DbResult, io: Output): void => {
  const kinds = Object.entries(r.kinds)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  io.out(
    `${!r.chain.ok ? 'BROKEN' : r.heads.ok && r.state.ok ? 'intact' : 'TAMPERED'}  ${r.file.startsWith('schema ') ? r.file : basename(r.file)}: ${r.records} records${kinds ? ` (${kinds})` : ''}`,
  );
  if (!r.chain.ok) io.out(`        chain broken at record ${r.chain.seq}: ${r.chain.reason}`);
  const h = r.heads;
  if (!h.ok) io.out(`        TAMPERED at record ${h.seq}: ${h.reason}`);
  else if (h.verified > 0)
    io.out(
      `        ${h.verified} signed heads verify (records 1–${h.vouchedTo} vouched for${h.held > 0 ? `; ${h.held} held by counterparties among them` : ''})`,
    );
  if (h.unchecked > 0) io.out(`        ${h.unchecked} signed heads not checked (no registry store beside it)`);
  if (!r.state.ok) io.out(`        TAMPERED state table: ${r.state.reason}`);
  const s = r.signatures;
  if (s.checked > 0) io.out(`        ${s.checked - s.failed.length} of ${s.checked} inbound signatures verify`);
  for (const f of s.failed) io.out(`        record ${f.seq}: ${f.why}`);
  if (s.unchecked > 0) io.out(`        ${s.unchecked} inbound signatures not checked (no registry store beside it)`);
};

export const auditCommand: Command = {
  name: 'audit',
  summary: 'verify stored audit trails (hash chains, signed heads, inbound signatures); export a transaction',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === 'export') {
      const { values: v, positionals: paths } = parseFlags(
        rest,
        { transaction: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } },
        USAGE,
        true,
      );
      if (v.help) {
        io.out(EXPORT_USAGE);
        return 0;
      }
      if (v.transaction === undefined || paths.length === 0)
        throw new FlexError('FLX_CLI_USAGE', `name the stores and --transaction ID\n\n${EXPORT_USAGE}`, {
          path: '--transaction',
        });
      return runExport(paths.flatMap(databasesIn), v.transaction, v.format ?? 'json', v.out, io);
    }
    if (sub !== 'verify') throw new FlexError('FLX_CLI_USAGE', `unknown audit command "${sub ?? ''}"\n\n${USAGE}`);
    const { values, positionals } = parseFlags(
      rest,
      {
        json: { type: 'boolean' },
        postgres: { type: 'string' },
        schema: { type: 'string', multiple: true },
        'password-file': { type: 'string' },
        head: { type: 'string', multiple: true },
        export: { type: 'string' },
      },
      USAGE,
      true,
    );
    if (values.export !== undefined) {
      if (positionals.length > 0 || values.postgres !== undefined)
        throw new FlexError('FLX_CLI_USAGE', `--export checks a file on its own: give no stores with it\n\n${USAGE}`);
      return runVerifyExport(values.export, io, values.json === true);
    }
    const results: DbResult[] = [];
    const given = (values.head ?? []).flatMap(readHeadFile);
    if (values.postgres !== undefined) {
      if (positionals.length > 0)
        throw new FlexError('FLX_CLI_USAGE', `give .db paths or --postgres, not both\n\n${USAGE}`, { path: 'PATH' });
      results.push(...(await verifyPostgres(values.postgres, values.schema ?? [], values['password-file'], given)));
    } else {
      if (values.schema !== undefined || values['password-file'] !== undefined)
        throw new FlexError('FLX_CLI_USAGE', `--schema and --password-file go with --postgres\n\n${USAGE}`);
      if (positionals.length === 0)
        throw new FlexError('FLX_CLI_USAGE', `name at least one .db file or folder, or --postgres URL\n\n${USAGE}`);
      for (const path of positionals) {
        const reads: Read[] = [];
        let keys: Map<string, string> | undefined;
        for (const file of databasesIn(path)) {
          keys = await registryKeys(dirname(file));
          reads.push(await verifyStore(file, () => openSqliteStore(file), keys));
        }
        checkHeads(reads, keys, given);
        results.push(...reads.map((x) => x.result));
      }
      if (results.length === 0) throw new FlexError('FLX_CLI_USAGE', `no .db files in ${positionals.join(', ')}`);
    }
    if (values.json) io.out(JSON.stringify(results, null, 2));
    else for (const r of results) report(r, io);
    return results.every((r) => r.chain.ok && r.heads.ok && r.state.ok && r.signatures.failed.length === 0) ? 0 : 1;
  },
};
