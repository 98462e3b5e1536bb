// The BPP's typed records, for any SQL adapter: commitments, plans, dispatches and meter readings.
// Each row holds the indexed fields as columns and the whole record as JSON (meter readings are all
// columns); what is read back is the stored JSON, so extra fields a caller adds survive.
import { fromStoredJson, toStoredJson } from '../../audit/stored-json.ts';
import type { EpochMs } from '../../domain/time.ts';
import { FlexError } from '../../errors.ts';
import type {
  CommitmentFilter,
  CommitmentKeys,
  DispatchFilter,
  DispatchKeys,
  MeterFilter,
  MeterReading,
  PlanKeys,
} from '../records.ts';
import { finite, optionalText, positive, text } from './check.ts';
import { placeholders, type SqlConn, type SqlValue } from './conn.ts';

/** WHERE clause from optional equalities/ranges; `$n` numbering continues from `params`. */
const whereOf = (params: SqlValue[], parts: readonly (readonly [string, SqlValue | undefined])[]): string => {
  const clauses: string[] = [];
  for (const [clause, value] of parts) {
    if (value === undefined) continue;
    params.push(value);
    clauses.push(clause.replace('?', `$${params.length}`));
  }
  return clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`;
};

const bodies = <T>(rows: readonly { body: string }[], what: string): T[] =>
  rows.map((r) => fromStoredJson(r.body, what) as T);

export const saveCommitment = async (conn: SqlConn, c: CommitmentKeys): Promise<void> => {
  const what = `commitment ${String(c?.orderId)}/${String(c?.site)}`;
  const body = toStoredJson(c, what);
  const v = body.value as CommitmentKeys;
  const start = finite(what, 'windowStart', v.windowStart);
  if (!(finite(what, 'windowEnd', v.windowEnd) > start))
    throw new FlexError('FLX_INTERNAL', `${what}: windowEnd must be after windowStart`, { path: 'windowEnd' });
  await conn.run(
    `INSERT INTO commitments (order_id, site, window_start, window_end, body) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (order_id, site) DO UPDATE SET window_start = excluded.window_start, window_end = excluded.window_end, body = excluded.body`,
    [text(what, 'orderId', v.orderId), text(what, 'site', v.site), start, v.windowEnd, body.text],
  );
};

export const listCommitments = async <C>(conn: SqlConn, location: string, f: CommitmentFilter = {}): Promise<C[]> => {
  // An empty list of states matches nothing (SQL has no empty IN list).
  if (f.orderStates !== undefined && f.orderStates.length === 0) return [];
  const params: SqlValue[] = [];
  let where = whereOf(params, [
    ['c.order_id = ?', f.orderId],
    ['c.site = ?', f.site],
    ['c.window_end > ?', f.endsAfter],
  ]);
  let join = '';
  if (f.orderStates !== undefined) {
    join = 'JOIN orders o ON o.id = c.order_id';
    where = `${where === '' ? 'WHERE' : `${where} AND`} o.state IN (${placeholders(params.length + 1, f.orderStates.length)})`;
    params.push(...f.orderStates);
  }
  const rows = await conn.all<{ body: string }>(
    `SELECT c.body FROM commitments c ${join} ${where} ORDER BY c.window_start, c.order_id, c.site`,
    params,
  );
  return bodies<C>(rows, `a commitment in ${location}`);
};

export const savePlan = async (conn: SqlConn, p: PlanKeys): Promise<void> => {
  const what = `plan ${String(p?.id)}`;
  const body = toStoredJson(p, what);
  const v = body.value as PlanKeys;
  const row = [
    text(what, 'id', v.id),
    finite(what, 'createdAt', v.createdAt),
    finite(what, 'horizonStart', v.horizonStart),
    text(what, 'status', v.status),
    body.text,
  ];
  if (
    (await conn.run(
      'INSERT INTO plans (id, created_at, horizon_start, status, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING',
      row,
    )) === 1
  )
    return;
  // Plans are immutable: saving the same plan again is harmless (a retried unit of work), another one is not.
  const [stored] = await conn.all<{ body: string }>('SELECT body FROM plans WHERE id = $1', [v.id]);
  if (stored?.body !== body.text)
    throw new FlexError(
      'FLX_STORE_CONFLICT',
      `${what} is already stored with different content; a new plan needs a new id`,
    );
};

export const getPlan = async <P>(conn: SqlConn, location: string, id: string): Promise<P | undefined> =>
  bodies<P>(
    await conn.all<{ body: string }>('SELECT body FROM plans WHERE id = $1', [id]),
    `plan ${id} in ${location}`,
  )[0];

export const latestPlan = async <P>(conn: SqlConn, location: string): Promise<P | undefined> =>
  bodies<P>(
    await conn.all<{ body: string }>('SELECT body FROM plans ORDER BY created_at DESC, id DESC LIMIT 1'),
    `the latest plan in ${location}`,
  )[0];

export const saveDispatch = async (conn: SqlConn, d: DispatchKeys): Promise<void> => {
  const what = `dispatch ${String(d?.id)}`;
  const body = toStoredJson(d, what);
  const v = body.value as DispatchKeys;
  await conn.run(
    `INSERT INTO dispatches (id, site, at, plan_id, order_id, body) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id) DO UPDATE SET site = excluded.site, at = excluded.at, plan_id = excluded.plan_id, order_id = excluded.order_id, body = excluded.body`,
    [
      text(what, 'id', v.id),
      text(what, 'site', v.site),
      finite(what, 'at', v.at),
      optionalText(what, 'planId', v.planId),
      optionalText(what, 'orderId', v.orderId),
      body.text,
    ],
  );
};

export const listDispatches = async <D>(conn: SqlConn, location: string, f: DispatchFilter = {}): Promise<D[]> => {
  const params: SqlValue[] = [];
  const where = whereOf(params, [
    ['site = ?', f.site],
    ['plan_id = ?', f.planId],
    ['order_id = ?', f.orderId],
  ]);
  return bodies<D>(
    await conn.all<{ body: string }>(`SELECT body FROM dispatches ${where} ORDER BY at, id`, params),
    `a dispatch in ${location}`,
  );
};

interface MeterRow {
  readonly site: string;
  readonly slot_start: number;
  readonly slot_minutes: number;
  readonly import_kw: number;
  readonly read_at: number;
  readonly source: string | null;
}

export const saveMeterReadings = async (conn: SqlConn, readings: readonly MeterReading[]): Promise<void> => {
  if (!Array.isArray(readings)) throw new FlexError('FLX_INTERNAL', 'meter readings must be an array');
  // All checked before any is written, so a bad reading in a batch writes none (also outside a transaction).
  const rows = readings.map((r, i) => {
    const what = `meter reading ${i}`;
    return [
      text(what, 'site', r.site),
      finite(what, 'slotStart', r.slotStart),
      positive(what, 'slotMinutes', r.slotMinutes),
      finite(what, 'importKw', r.importKw),
      finite(what, 'readAt', r.readAt),
      optionalText(what, 'source', r.source),
    ];
  });
  for (const row of rows) {
    // A reading taken earlier than the stored one (a late retry of an old read) does not replace it.
    await conn.run(
      `INSERT INTO meter_readings (site, slot_start, slot_minutes, import_kw, read_at, source) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (site, slot_start) DO UPDATE SET slot_minutes = excluded.slot_minutes, import_kw = excluded.import_kw, read_at = excluded.read_at, source = excluded.source
       WHERE excluded.read_at >= meter_readings.read_at`,
      row,
    );
  }
};

export const meterReadings = async (conn: SqlConn, f: MeterFilter): Promise<MeterReading[]> => {
  const params: SqlValue[] = [];
  const where = whereOf(params, [
    ['site = ?', text('a meter query', 'site', f?.site)],
    ['slot_start >= ?', f.from],
    ['slot_start < ?', f.to],
  ]);
  const rows = await conn.all<MeterRow>(
    `SELECT site, slot_start, slot_minutes, import_kw, read_at, source FROM meter_readings ${where} ORDER BY slot_start`,
    params,
  );
  return rows.map((r) => ({
    site: r.site,
    slotStart: r.slot_start as EpochMs,
    slotMinutes: r.slot_minutes,
    importKw: r.import_kw,
    readAt: r.read_at,
    ...(r.source === null ? {} : { source: r.source }),
  }));
};
