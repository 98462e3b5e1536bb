// Which Beckn a counterparty speaks, chosen per counterparty (issue 18): core 1.1.1 unless the
// registry says otherwise.
//
// - The registry record's `beckn_version` field ("2.0.0", or "1.1.x"): what the subscriber speaks.
//   registry.yaml's Subscription has no such field and the 2.0 registry (DeDi) is not specified in
//   the files at hand, so this is FlexLon's extension of the record; a record without it is 1.1.1.
// - A callback answers its request in the request's version: a transaction a 2.0 request began is
//   recorded (V2_TRANSACTION_DOC), and every callback of that transaction, asked for or not (an
//   unasked on_status), goes out in 2.0 whatever the registry says.
import type { Registry, Store, StoreOps, Subscription } from '../../ports.ts';
import { isCallback, type BecknMessage } from '../context.ts';

export type BecknVersion = '1.1.1' | '2.0';

/** Store documents: the transactions a 2.0 request began, and each 2.0 request's digest. */
export const V2_TRANSACTION_DOC = 'beckn-v2.transaction';
export const V2_REQUEST_DOC = 'beckn-v2.request';

export interface V2TransactionRecord {
  readonly version: '2.0.0';
  readonly bapId: string;
  /** Where the buyer takes 2.0 callbacks (its bapUri: its registered URL, or that + /v2). */
  readonly bapUri: string;
}
export interface V2RequestRecord {
  /** `BLAKE-512=<base64>` of the request's exact bytes (LTS RequestDigest.digest). */
  readonly digest: string;
  readonly bapUri: string;
}
/** A Contract bought over 2.0 (the buyer's side): its commitment, which a status request repeats. */
export const V2_CONTRACT_DOC = 'beckn-v2.contract';
export interface V2ContractRecord {
  readonly commitment: Record<string, unknown>;
}

export const requestDocId = (transactionId: string, messageId: string): string => `${transactionId}|${messageId}`;

/** Records, in the request's transaction, that it came in 2.0 and what its bytes' digest was. */
export const recordV2Request = async (
  tx: Pick<StoreOps, 'putDocument'>,
  transactionId: string,
  messageId: string,
  bapId: string,
  bapUri: string,
  digestBase64: string,
): Promise<void> => {
  await tx.putDocument(V2_TRANSACTION_DOC, transactionId, {
    version: '2.0.0',
    bapId,
    bapUri,
  } satisfies V2TransactionRecord);
  await tx.putDocument(V2_REQUEST_DOC, requestDocId(transactionId, messageId), {
    digest: `BLAKE-512=${digestBase64}`,
    bapUri,
  } satisfies V2RequestRecord);
};

/** The version a registry record says its subscriber speaks; undefined when it does not say. */
export const versionOfRecord = (s: Subscription): BecknVersion | undefined => {
  const v: unknown = s.beckn_version;
  if (typeof v !== 'string') return undefined;
  if (/^2\.0(\.\d+)?$/.test(v)) return '2.0';
  if (/^1\.1(\.\d+)?$/.test(v)) return '1.1.1';
  return undefined;
};

export interface VersionChooser {
  /**
   * The version `msg` goes out in: 2.0 for its counterparty or its transaction, else 1.1.1. The
   * counterparty is `peer` when given (a search sent straight to a BPP names none in its context).
   */
  versionFor(msg: BecknMessage, peer?: string): Promise<BecknVersion>;
}

export const counterpartyVersions = (registry: Registry, store: Pick<Store, 'getDocument'>): VersionChooser => ({
  async versionFor(msg, peer) {
    const c = msg.context;
    const callback = isCallback(c.action);
    if (callback && (await store.getDocument<V2TransactionRecord>(V2_TRANSACTION_DOC, c.transaction_id))) return '2.0';
    const who = peer ?? (callback ? c.bap_id : c.bpp_id);
    if (who === undefined) return '1.1.1';
    // A registry that cannot be asked says nothing: the default (1.1.1), as for a record without the
    // field. A 2.0 transaction's callbacks do not depend on it (above).
    const records = await registry.lookup({ subscriber_id: who }).catch(() => []);
    return records.map(versionOfRecord).find((v) => v !== undefined) ?? '1.1.1';
  },
});
