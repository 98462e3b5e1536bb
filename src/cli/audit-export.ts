// `flexlon audit export` and `flexlon audit verify --export`: one transaction out of a run's stores,
// in order with its chain hashes and signed heads, as JSON (checkable offline) or CSV (for people);
// and the offline check of such a JSON file (src/audit/export.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import {
  EXPORT_VERSION,
  exportCsv,
  exportStore,
  verifyExport,
  type AuditExport,
  type StoreExport,
} from '../audit/export.ts';
import { openSqliteStore } from '../compose/tools.ts';
import { FlexError } from '../errors.ts';
import type { Store, Subscription } from '../ports.ts';
import type { Output } from './command.ts';

export const EXPORT_USAGE = `Usage: flexlon audit export PATH... --transaction ID [--format json|csv] [--out FILE]
       flexlon audit verify --export FILE

export: everything about one Beckn transaction from the stores at PATH (.db files or a run folder):
its records in order with their chain hashes, each record's stretch of the chain up to the first
signed head after it (records of other transactions there are included whole, marked context), the
heads, and the signers' public keys as the run's registry store held them. JSON is checkable offline
with verify --export; CSV is for people. verify --export recomputes every hash and link and checks
every head's signature; exit 0 when the export holds, 1 naming the first record at fault.`;

const readKeys = async (folder: string): Promise<Record<string, string>> => {
  let store: Store;
  try {
    store = await openSqliteStore(resolve(folder, 'registry.db'));
  } catch {
    return {};
  }
  try {
    const subs = (await store.getDocument<Subscription[]>('registry', 'subscriptions')) ?? [];
    return Object.fromEntries(subs.map((s) => [`${s.subscriber_id}|${s.unique_key_id}`, s.signing_public_key]));
  } finally {
    await store.close();
  }
};

export const runExport = async (
  files: readonly string[],
  transactionId: string,
  format: string,
  out: string | undefined,
  io: Output,
): Promise<number> => {
  if (format !== 'json' && format !== 'csv')
    throw new FlexError('FLX_CLI_USAGE', `--format "${format}": json or csv\n\n${EXPORT_USAGE}`, { path: '--format' });
  const stores: StoreExport[] = [];
  let keys: Record<string, string> = {};
  for (const file of files) {
    if (basename(file) === 'registry.db') continue;
    keys = { ...keys, ...(await readKeys(dirname(file))) };
    const store = await openSqliteStore(file);
    try {
      const part = exportStore(basename(file), await store.auditTrail(), transactionId);
      if (part) stores.push(part);
    } finally {
      await store.close();
    }
  }
  if (stores.length === 0)
    throw new FlexError('FLX_CLI_USAGE', `no record of transaction ${transactionId} in ${files.join(', ')}`, {
      path: '--transaction',
    });
  const e: AuditExport = { version: EXPORT_VERSION, transactionId, exportedAt: new Date().toISOString(), keys, stores };
  const text = format === 'json' ? `${JSON.stringify(e, null, 2)}\n` : exportCsv(e);
  const n = stores.reduce((a, s) => a + s.records.filter((r) => !r.context).length, 0);
  if (out) {
    writeFileSync(resolve(out), text);
    io.out(`transaction ${transactionId}: ${n} records from ${stores.length} stores written to ${out} (${format})`);
  } else io.out(text.replace(/\n$/, ''));
  return 0;
};

export const runVerifyExport = (file: string, io: Output, json: boolean): number => {
  let e: AuditExport;
  try {
    e = JSON.parse(readFileSync(resolve(file), 'utf8')) as AuditExport;
  } catch (err) {
    throw new FlexError('FLX_CLI_USAGE', `--export ${file}: not a readable JSON file (${(err as Error).message})`, {
      path: '--export',
    });
  }
  if (typeof e !== 'object' || e === null || !Array.isArray(e.stores) || typeof e.keys !== 'object')
    throw new FlexError('FLX_CLI_USAGE', `--export ${file}: not a FlexLon audit export (${EXPORT_VERSION})`, {
      path: '--export',
    });
  const v = verifyExport(e);
  if (json) io.out(JSON.stringify(v, null, 2));
  else if (v.ok)
    io.out(
      `intact  export of transaction ${e.transactionId}: ${v.records} records, ${v.vouched} vouched for by signed heads${v.unvouched.length > 0 ? `; not yet vouched for (after the newest head): ${v.unvouched.join(', ')}` : ''}; keys as the run's registry held them (${Object.keys(e.keys).length})`,
    );
  else io.out(`TAMPERED  export of transaction ${e.transactionId}: ${v.store} record ${v.seq}: ${v.reason}`);
  return v.ok ? 0 : 1;
};
