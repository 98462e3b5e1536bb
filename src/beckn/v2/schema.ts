// FlexLon's own minimal schemas for Beckn 2.0 envelopes: the context and the top of each message
// FlexLon exchanges (discover … on_update). They say what FlexLon needs to route and read a message,
// not everything the official file allows: the official OpenAPI is checked with `--spec`
// (see official.ts), read at run time and never shipped (its licence, CC BY-NC-SA, forbids it).
//
// Two spellings of 2.0 are in circulation and FlexLon meets both (docs/beckn.md, "Beckn 2.0"):
// - 'lts': core v2.0.0 LTS beckn.yaml — camelCase context (bapId, messageId, …), `message.contract`,
//   discover qualifiers inside `message.intent`;
// - 'deg-draft': the DEG df-new-flow examples (2025-11) — version "2.0.0" but the 1.1.1 snake_case
//   context (bap_id, message_id, …), `message.order`, and discover's text_search/filters/spatial at
//   the top of `message`.

export type V2Dialect = 'lts' | 'deg-draft';

/** The 2.0 actions FlexLon has its own schema for (discover, the transaction and the post-order flows). */
export const V2_ACTIONS = [
  'discover',
  'on_discover',
  'select',
  'on_select',
  'init',
  'on_init',
  'confirm',
  'on_confirm',
  'status',
  'on_status',
  'update',
  'on_update',
  'track',
  'on_track',
  'cancel',
  'on_cancel',
  'rate',
  'on_rate',
  'support',
  'on_support',
] as const;
export type V2Action = (typeof V2_ACTIONS)[number];
export const isV2Action = (a: string): a is V2Action => (V2_ACTIONS as readonly string[]).includes(a);

/** Other 2.0 action names: the DEG draft's (rating; LTS says rate). */
export const OTHER_V2_ACTIONS = ['rating'] as const;

const nonEmpty = { type: 'string', minLength: 1 } as const;
const url = { type: 'string', format: 'uri' } as const;
// ISO 8601 duration (PT30S, P1D): both drafts carry ttl this way.
const duration = {
  type: 'string',
  pattern: '^P(?!$)(\\d+Y)?(\\d+M)?(\\d+W)?(\\d+D)?(T(?=\\d)(\\d+H)?(\\d+M)?(\\d+(\\.\\d+)?S)?)?$',
};

/** Context field names in each dialect, so one schema builder serves both. */
const FIELDS: Record<V2Dialect, Record<'bapId' | 'bapUri' | 'bppId' | 'bppUri' | 'txn' | 'msg', string>> = {
  lts: { bapId: 'bapId', bapUri: 'bapUri', bppId: 'bppId', bppUri: 'bppUri', txn: 'transactionId', msg: 'messageId' },
  'deg-draft': {
    bapId: 'bap_id',
    bapUri: 'bap_uri',
    bppId: 'bpp_id',
    bppUri: 'bpp_uri',
    txn: 'transaction_id',
    msg: 'message_id',
  },
};

const contextSchema = (dialect: V2Dialect, action: string): object => {
  const f = FIELDS[dialect];
  // discover may go to a catalogue service before any BPP is known; every later step is addressed
  // to one BPP, and on_discover comes from one (LTS Context: "Endpoint-specific validation").
  const needsBpp = action !== 'discover';
  return {
    type: 'object',
    required: [
      'action',
      'version',
      'timestamp',
      f.bapId,
      f.bapUri,
      f.txn,
      f.msg,
      ...(needsBpp ? [f.bppId, f.bppUri] : []),
    ],
    properties: {
      action: { const: action },
      version: { type: 'string', pattern: '^2\\.0\\.\\d+$' },
      timestamp: { type: 'string', format: 'date-time' },
      ttl: duration,
      [f.bapId]: nonEmpty,
      [f.bapUri]: url,
      [f.bppId]: nonEmpty,
      [f.bppUri]: url,
      [f.txn]: nonEmpty,
      [f.msg]: nonEmpty,
    },
  };
};

const LTS_MEMBERS: Partial<Record<V2Action, { key: string; schema: object }>> = {
  track: { key: 'tracking', schema: { type: 'object' } },
  on_track: { key: 'tracking', schema: { type: 'object', required: ['status'] } },
  rate: {
    key: 'ratingInputs',
    schema: { type: 'array', minItems: 1, items: { type: 'object', required: ['target'] } },
  },
  on_rate: { key: 'ratings', schema: { type: 'array' } },
  support: { key: 'support', schema: { type: 'object' } },
  on_support: { key: 'support', schema: { type: 'object' } },
};

/** The top of `message` for an action, in a dialect. Contents below this level are left to --spec. */
const messageSchema = (dialect: V2Dialect, action: V2Action): object => {
  if (action === 'discover')
    return dialect === 'lts'
      ? { type: 'object', required: ['intent'], properties: { intent: { type: 'object' } } }
      : {
          type: 'object',
          // the draft asks for at least one qualifier; an empty discover would match everything.
          anyOf: [{ required: ['text_search'] }, { required: ['filters'] }, { required: ['spatial'] }],
          properties: { text_search: { type: 'string' }, filters: { type: 'object' }, spatial: { type: 'array' } },
        };
  if (action === 'on_discover') {
    const id = dialect === 'lts' ? 'id' : 'beckn:id';
    return {
      type: 'object',
      required: ['catalogs'],
      properties: { catalogs: { type: 'array', items: { type: 'object', required: [id] } } },
    };
  }
  // LTS post-order messages that carry no Contract (beckn.yaml TrackAction … OnSupportAction); the
  // DEG draft has no examples of them, so there only an object is asked for.
  const member = LTS_MEMBERS[action];
  if (member !== undefined)
    return dialect === 'lts'
      ? { type: 'object', required: [member.key], properties: { [member.key]: member.schema } }
      : { type: 'object' };
  const key = dialect === 'lts' ? 'contract' : 'order';
  // A status request names the order it asks about; the DEG demand-flexibility draft sends only
  // `order_id` (examples/demand_flexibility/3.monitoring/status-request.json).
  if (action === 'status' && dialect === 'deg-draft')
    return {
      type: 'object',
      anyOf: [{ required: ['order'] }, { required: ['order_id'] }],
      properties: { order: { type: 'object' }, order_id: nonEmpty },
    };
  return { type: 'object', required: [key], properties: { [key]: { type: 'object' } } };
};

/** The whole-envelope schema FlexLon checks a 2.0 message against. */
export const v2EnvelopeSchema = (dialect: V2Dialect, action: string): object => ({
  type: 'object',
  required: ['context', 'message'],
  properties: {
    context: contextSchema(dialect, action),
    ...(isV2Action(action) ? { message: messageSchema(dialect, action) } : { message: { type: 'object' } }),
  },
});
