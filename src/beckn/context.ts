// Beckn v1.1 context (transaction.yaml `Context`). FlexLon's network domain for compute
// flexibility follows the UEI layer-2 naming (`uei:ev_charging`, `uei:p2p_trading`); see
// docs/beckn.md. `version` is the core schema version the messages follow: core 1.1.1 changed only
// docs from 1.1.0, and networks on that line put "1.1.0" in the context.
import { randomUUID } from 'node:crypto';

export const FLEXLON_DOMAIN = 'uei:compute_flexibility';
export const CORE_VERSION = '1.1.0';

export const REQUEST_ACTIONS = [
  'search',
  'select',
  'init',
  'confirm',
  'status',
  'track',
  'cancel',
  'update',
  'rating',
  'support',
] as const;
export type RequestAction = (typeof REQUEST_ACTIONS)[number];
export type CallbackAction = `on_${RequestAction}`;
export type Action = RequestAction | CallbackAction;

export const callbackOf = (a: RequestAction): CallbackAction => `on_${a}`;
export const isCallback = (a: string): a is CallbackAction =>
  a.startsWith('on_') && (REQUEST_ACTIONS as readonly string[]).includes(a.slice(3));
export const isRequest = (a: string): a is RequestAction => (REQUEST_ACTIONS as readonly string[]).includes(a);

export interface Context {
  domain: string;
  location?: { country?: { code: string }; city?: { code: string } };
  action: Action;
  version: string;
  bap_id: string;
  bap_uri: string;
  bpp_id?: string;
  bpp_uri?: string;
  transaction_id: string;
  message_id: string;
  timestamp: string;
  ttl?: string;
}

export interface BecknMessage<M = unknown> {
  context: Context;
  message?: M;
  error?: { code: string; paths?: string; message: string };
}

export interface ContextInput {
  readonly action: Action;
  readonly bapId: string;
  readonly bapUri: string;
  readonly bppId?: string;
  readonly bppUri?: string;
  readonly transactionId?: string;
  /** Callbacks reuse the request's message_id (it pairs request and callback). */
  readonly messageId?: string;
  readonly now: number;
  readonly ttlSeconds?: number;
}

export const buildContext = (i: ContextInput): Context => ({
  domain: FLEXLON_DOMAIN,
  location: { country: { code: 'GBR' } },
  action: i.action,
  version: CORE_VERSION,
  bap_id: i.bapId,
  bap_uri: i.bapUri,
  ...(i.bppId ? { bpp_id: i.bppId } : {}),
  ...(i.bppUri ? { bpp_uri: i.bppUri } : {}),
  transaction_id: i.transactionId ?? randomUUID(),
  message_id: i.messageId ?? randomUUID(),
  timestamp: new Date(i.now).toISOString(),
  ttl: `PT${i.ttlSeconds ?? 30}S`,
});

/** Reads an ISO-8601 duration of the simple forms networks use (PT30S, PT5M, PT1H, P1D, P1M≈30 days). */
export const durationSeconds = (iso: string): number | undefined => {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
    iso,
  );
  if (!m || iso === 'P' || iso.endsWith('T')) return undefined;
  const [, y, mo, w, d, h, mi, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  return (
    (y ?? 0) * 365 * 86400 +
    (mo ?? 0) * 30 * 86400 +
    (w ?? 0) * 7 * 86400 +
    (d ?? 0) * 86400 +
    (h ?? 0) * 3600 +
    (mi ?? 0) * 60 +
    (s ?? 0)
  );
};
