// Signed chain heads: what makes the audit log hold against someone with write access to the
// database (issue 17). A hash chain alone detects an edit only if the attacker does not re-hash
// what follows; a head — (seq, hash) of a record, signed with the participant's ed25519 key, which
// lives in the key store, not in the database — pins the chain up to that record. The store writes
// one after every settlement and state-table record (in the same transaction, so a forged one has
// none) and at least every settlement period; heads are sent to the counterparty in on_status /
// on_support, which keeps them in its own log, so truncation is caught by the head it holds.
//
// What a head cannot do: vouch for records written after the newest head anyone holds (the tail can
// be cut back to a head), or stop someone who holds the private key.
import { createHash } from 'node:crypto';
import { publicKeyFromBase64 } from '../beckn/keys.ts';
import { verifySignature } from '../beckn/signing.ts';
import { canonicalJson } from './canonical.ts';
import type { AuditEntry, AuditRecord } from './chain.ts';

/** What signs heads: a participant's key (the Signer port has this shape; kept apart to avoid a cycle). */
export interface HeadSigner {
  readonly subscriberId: string;
  readonly uniqueKeyId: string;
  sign(data: Uint8Array): Uint8Array;
}

/** The audit kind of a head record (its payload is a SignedHead of the record just before it). */
export const HEAD_KIND = 'head';
/** The audit kind of a state-table write: a digest of the row as stored (orders, commitments). */
export const STATE_KIND = 'state';
/** Records that must be followed at once by a head signing them. */
export const HEADED_KINDS: readonly string[] = ['settlement', STATE_KIND];
/** A head at least this often (wall time) while records are written: a GB settlement period. */
export const HEAD_PERIOD_MS = 30 * 60_000;

export interface SignedHead {
  readonly v: 1;
  /** Whose log (the subscriber id that signs) and with which key. */
  readonly actor: string;
  readonly keyId: string;
  /** The record the head vouches for, and through its hash every record before it. */
  readonly seq: number;
  readonly hash: string;
  /** When it was signed (epoch ms, wall time). */
  readonly at: number;
  readonly signature: string;
}

const signingText = (h: Omit<SignedHead, 'signature'>): string =>
  `flexlon-audit-head/${h.v}|${h.actor}|${h.keyId}|${h.seq}|${h.hash}|${h.at}`;

export const signHead = (record: Pick<AuditRecord, 'seq' | 'hash'>, signer: HeadSigner, at: number): SignedHead => {
  const unsigned = {
    v: 1 as const,
    actor: signer.subscriberId,
    keyId: signer.uniqueKeyId,
    seq: record.seq,
    hash: record.hash,
    at,
  };
  const signature = Buffer.from(signer.sign(Buffer.from(signingText(unsigned), 'utf8'))).toString('base64');
  return { ...unsigned, signature };
};

/** The head record that follows `record` in the log. */
export const headEntry = (record: AuditRecord, signer: HeadSigner, at: number): AuditEntry => ({
  kind: HEAD_KIND as AuditEntry['kind'],
  at,
  actor: signer.subscriberId,
  ...(record.transactionId === undefined ? {} : { transactionId: record.transactionId }),
  ...(record.orderId === undefined ? {} : { orderId: record.orderId }),
  payload: signHead(record, signer, at),
});

/** True when `x` has the shape of a signed head (it may still not verify). */
export const isSignedHead = (x: unknown): x is SignedHead => {
  const h = x as Partial<SignedHead> | null;
  return (
    typeof h === 'object' &&
    h !== null &&
    h.v === 1 &&
    typeof h.actor === 'string' &&
    typeof h.keyId === 'string' &&
    Number.isSafeInteger(h.seq) &&
    typeof h.hash === 'string' &&
    typeof h.at === 'number' &&
    typeof h.signature === 'string'
  );
};

/** True when the head's signature is good under the base64 public key. */
export const verifyHead = (h: SignedHead, publicKeyBase64: string): boolean => {
  try {
    const { signature, ...rest } = h;
    return verifySignature(publicKeyFromBase64(publicKeyBase64), signingText(rest), signature);
  } catch {
    return false;
  }
};

/** The digest a state record carries for a row as stored (canonical JSON, SHA-256). */
export const rowDigest = (row: unknown): string => createHash('sha256').update(canonicalJson(row)).digest('hex');

export interface StateRecordPayload {
  readonly table: 'orders' | 'commitments';
  readonly key: string;
  readonly digest: string;
}

/** Resolves a signer's public key (base64), or undefined when it is not known. */
export type HeadKeys = (actor: string, keyId: string) => string | undefined;

export type HeadVerdict =
  | {
      readonly ok: true;
      /** Heads that verified, and the newest record one vouches for (0: none). */
      readonly heads: number;
      readonly vouchedTo: number;
      /** Heads whose key was not known (counted, not trusted). */
      readonly unchecked: number;
    }
  | { readonly ok: false; readonly seq: number; readonly reason: string };

/**
 * Checks a whole trail (already through verifyChain) against the heads in it and any the
 * counterparty holds: every head verifies under its actor's key and names a record that is still
 * there, with the same hash; every settlement and state record is followed at once by its head.
 * The first fault is named with the range it lies in (after the last record a head vouches for).
 */
export const verifyHeads = (
  trail: readonly AuditRecord[],
  keys: HeadKeys,
  held: readonly SignedHead[] = [],
): HeadVerdict => {
  const bySeq = new Map(trail.map((r) => [r.seq, r]));
  const last = trail[trail.length - 1]?.seq ?? 0;
  let vouchedTo = 0;
  let heads = 0;
  let unchecked = 0;
  const check = (h: SignedHead, where: string): HeadVerdict | undefined => {
    const key = keys(h.actor, h.keyId);
    if (key === undefined) {
      unchecked++;
      return undefined;
    }
    if (!verifyHead(h, key))
      return {
        ok: false,
        seq: h.seq,
        reason: `${where}: its signature does not verify under ${h.actor}'s key ${h.keyId}`,
      };
    const r = bySeq.get(h.seq);
    if (!r)
      return {
        ok: false,
        seq: h.seq,
        reason: `${where} vouches for record ${h.seq}, signed ${new Date(h.at).toISOString()}, but the log ends at record ${last}: it was truncated after record ${vouchedTo}`,
      };
    if (r.hash !== h.hash)
      return {
        ok: false,
        seq: h.seq,
        reason: `record ${h.seq} is not the one ${where} vouches for (signed ${new Date(h.at).toISOString()}): the log was rewritten at or before record ${h.seq}, after record ${vouchedTo} (the last one a head vouches for)`,
      };
    heads++;
    vouchedTo = Math.max(vouchedTo, h.seq);
    return undefined;
  };
  for (let i = 0; i < trail.length; i++) {
    const r = trail[i] as AuditRecord;
    if (r.kind === HEAD_KIND) {
      if (!isSignedHead(r.payload))
        return { ok: false, seq: r.seq, reason: `head record ${r.seq} holds no signed head` };
      const bad = check(r.payload, `the head in record ${r.seq}`);
      if (bad) return bad;
    }
    if (HEADED_KINDS.includes(r.kind)) {
      const next = trail[i + 1];
      const h = next?.payload as SignedHead | undefined;
      if (!next || next.kind !== HEAD_KIND || !isSignedHead(h) || h.seq !== r.seq)
        return {
          ok: false,
          seq: r.seq,
          reason: `record ${r.seq} (${r.kind}) is not followed by a head signing it: it was not written by the participant's own process`,
        };
    }
  }
  for (const h of held) {
    const bad = check(h, `the head the counterparty holds (${h.actor})`);
    if (bad) return bad;
  }
  return { ok: true, heads, vouchedTo, unchecked };
};

/**
 * State rows against the log: each row must match the digest of the last state record written for
 * it (an edit of the orders table, by hand, breaks it). Returns the first row that does not.
 */
export const verifyStateRows = (
  trail: readonly AuditRecord[],
  rows: readonly { table: StateRecordPayload['table']; key: string; row: unknown }[],
): { ok: true; rows: number } | { ok: false; table: string; key: string; reason: string } => {
  const latest = new Map<string, { seq: number; digest: string }>();
  for (const r of trail) {
    if (r.kind !== STATE_KIND) continue;
    const p = r.payload as StateRecordPayload;
    latest.set(`${p.table}|${p.key}`, { seq: r.seq, digest: p.digest });
  }
  for (const x of rows) {
    const want = latest.get(`${x.table}|${x.key}`);
    if (!want)
      return { ok: false, table: x.table, key: x.key, reason: `no record in the log wrote ${x.table} row ${x.key}` };
    if (rowDigest(x.row) !== want.digest)
      return {
        ok: false,
        table: x.table,
        key: x.key,
        reason: `${x.table} row ${x.key} differs from what record ${want.seq} says was written: it was edited outside FlexLon`,
      };
  }
  return { ok: true, rows: rows.length };
};

/** The tag group a head travels in (on_status order tags): core 1.1.1 has no field for it. */
export const HEAD_TAG_GROUP = 'audit-head';

export const headTags = (
  h: SignedHead,
): { descriptor: { code: string; name: string }; list: { descriptor: { code: string }; value: string }[] } => ({
  descriptor: { code: HEAD_TAG_GROUP, name: "The provider's signed audit chain head: keep it to check its log later" },
  list: Object.entries({
    v: h.v,
    actor: h.actor,
    'key-id': h.keyId,
    seq: h.seq,
    hash: h.hash,
    at: h.at,
    signature: h.signature,
  }).map(([k, v]) => ({ descriptor: { code: k }, value: String(v) })),
});

/** The head in a message's tag groups, or undefined when there is none (or it is malformed). */
export const headFromTags = (groups: unknown): SignedHead | undefined => {
  if (!Array.isArray(groups)) return undefined;
  const g = groups.find((x) => (x as { descriptor?: { code?: unknown } })?.descriptor?.code === HEAD_TAG_GROUP) as
    { list?: { descriptor?: { code?: unknown }; value?: unknown }[] } | undefined;
  if (!g || !Array.isArray(g.list)) return undefined;
  const v = (code: string) => g.list?.find((t) => t?.descriptor?.code === code)?.value;
  const h = {
    v: Number(v('v')),
    actor: v('actor'),
    keyId: v('key-id'),
    seq: Number(v('seq')),
    hash: v('hash'),
    at: Number(v('at')),
    signature: v('signature'),
  };
  return isSignedHead(h) ? h : undefined;
};
