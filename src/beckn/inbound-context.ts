// The context checks of the receiver pipeline that a schema cannot express: who may send what to
// whom, and whether the message is still inside its ttl. Runs after schema validation, so fields
// have their types; every failure names the context field at fault.
import { FlexError } from '../errors.ts';
import { FLEXLON_DOMAIN, durationSeconds, isCallback, isRequest, type Action, type BecknMessage } from './context.ts';
import type { ResolvedKey } from './key-resolver.ts';

export interface ContextPolicy {
  /** This participant's subscriber id. */
  readonly subscriberId: string;
  readonly role: 'BAP' | 'BPP' | 'BG';
  /** Seconds of clock skew allowed on top of the ttl. */
  readonly skewSeconds: number;
}

const bad = (path: string, why: string) => new FlexError('FLX_REQ_CONTEXT', why, { path });

/** http or https, with no query string, fragment or user info. */
const plainHttpUrl = (s: string): boolean => {
  try {
    const u = new URL(s);
    return (
      (u.protocol === 'http:' || u.protocol === 'https:') &&
      !u.search &&
      !u.hash &&
      !u.username &&
      !u.password &&
      !s.includes('?')
    );
  } catch {
    return false;
  }
};

/**
 * The longest context.ttl accepted (s). Core 1.1.1 sets no bound, but a message valid for a century
 * keeps its replay-protection claim and any callback owed alive that long (issue 14 finding 5); the
 * network's messages live for seconds (FlexLon sends PT30S).
 */
export const MAX_TTL_SECONDS = 3600;

/** Core 1.1.1 Context.ttl: "the duration … after timestamp for which this message holds valid". */
export const checkTtl = (msg: BecknMessage, nowMs: number, skewSeconds: number): void => {
  const c = msg.context;
  const sent = Date.parse(c.timestamp);
  if (Number.isNaN(sent)) throw bad('context.timestamp', 'context.timestamp is not an RFC 3339 date-time');
  if (sent > nowMs + skewSeconds * 1000)
    throw bad('context.timestamp', `context.timestamp ${c.timestamp} is in the future (sender clock ahead?)`);
  if (c.ttl === undefined) return;
  const ttl = durationSeconds(c.ttl);
  if (ttl === undefined) throw bad('context.ttl', `context.ttl "${c.ttl}" is not an ISO 8601 duration`);
  if (ttl > MAX_TTL_SECONDS)
    throw bad('context.ttl', `context.ttl "${c.ttl}" is longer than the ${MAX_TTL_SECONDS} s (PT1H) accepted`);
  if (nowMs > sent + ttl * 1000 + skewSeconds * 1000) {
    throw new FlexError(
      'FLX_REQ_EXPIRED',
      `the message was sent at ${c.timestamp} with ttl ${c.ttl}; it arrived too late`,
      { path: 'context.ttl' },
    );
  }
};

/**
 * Whether the context names a URL for its sender other than the one `sender` (the key as resolved)
 * holds: the check below refuses that, and a receiver whose registry answers from a cache looks the
 * sender up afresh before it does (a buyer restarted on another port re-subscribes with its new URL).
 */
export const registeredUriDiffers = (action: Action, msg: BecknMessage, sender: ResolvedKey): boolean => {
  const c = msg.context;
  const claimedUri = isRequest(action) ? c.bap_uri : c.bpp_uri;
  return (
    sender.type !== 'AGENT' &&
    typeof claimedUri === 'string' &&
    claimedUri.replace(/\/+$/, '') !== sender.url.replace(/\/+$/, '')
  );
};

export const checkContext = (
  p: ContextPolicy,
  action: Action,
  msg: BecknMessage,
  sender: ResolvedKey,
  nowMs: number,
): void => {
  const c = msg.context;
  if (c.action !== action)
    throw bad('context.action', `context.action is "${String(c.action)}" but the endpoint is /${action}`);
  if (c.domain !== FLEXLON_DOMAIN)
    throw bad('context.domain', `domain "${String(c.domain)}" is not served here (expected ${FLEXLON_DOMAIN})`);
  if (!c.version.startsWith('1.1'))
    throw bad('context.version', `version "${c.version}" is not supported (expected 1.1.x)`);
  // The signer must be the party the context says sent the message (BAP for requests, BPP for callbacks).
  const claimed = isRequest(action) ? c.bap_id : c.bpp_id;
  if (sender.subscriberId !== claimed) {
    throw new FlexError(
      'FLX_SIG_WRONG_SUBSCRIBER',
      `signed by ${sender.subscriberId} but context.${isRequest(action) ? 'bap_id' : 'bpp_id'} is ${String(claimed)}`,
    );
  }
  // Callbacks go only to the URL the registry holds for the subscriber (no callback to arbitrary URLs),
  // and only to a plain http(s) URL: a query string or fragment lets a registered URL carry another
  // target to a server that forwards it (issue 14 finding 6).
  const claimedUri = isRequest(action) ? c.bap_uri : c.bpp_uri;
  if (claimedUri !== undefined && !plainHttpUrl(claimedUri))
    throw bad(
      isRequest(action) ? 'context.bap_uri' : 'context.bpp_uri',
      `${claimedUri.slice(0, 200)} is not a plain http(s) URL (no query string, fragment or credentials)`,
    );
  if (claimedUri !== undefined && registeredUriDiffers(action, msg, sender)) {
    throw bad(
      isRequest(action) ? 'context.bap_uri' : 'context.bpp_uri',
      `${claimedUri} is not the URL registered for ${sender.subscriberId}`,
    );
  }
  if (isCallback(action) && p.role !== 'BG' && c.bap_id !== p.subscriberId)
    throw bad('context.bap_id', `this callback is for ${c.bap_id}, not ${p.subscriberId}`);
  // A gateway relays a search that may name a BPP (context.bpp_id); anyone else must be the BPP named.
  if (isRequest(action) && p.role !== 'BG' && c.bpp_id !== undefined && c.bpp_id !== p.subscriberId)
    throw bad('context.bpp_id', `this request is for ${c.bpp_id}, not ${p.subscriberId}`);
  checkTtl(msg, nowMs, p.skewSeconds);
};
