// One schema per Beckn action FlexLon sends or accepts (core 1.1.1 `paths`), plus the synchronous
// ACK/NACK. Where FlexLon needs more than core makes mandatory it says so here (the FlexLon profile,
// docs/beckn.md): a search must carry an intent, a select/init/confirm an order with at least one
// item id, a support request a `support` object.
import { REQUEST_ACTIONS, callbackOf, type Action, type CallbackAction, type RequestAction } from '../context.ts';
import { ref } from './objects.ts';

const BASE = 'https://flexlon.invalid/schemas/beckn-core-1.1/';

const orderWithItems = {
  allOf: [
    ref('Order'),
    {
      type: 'object',
      required: ['items'],
      properties: { items: { type: 'array', minItems: 1, items: { type: 'object', required: ['id'] } } },
    },
  ],
};
const orderId = { type: 'string', minLength: 1 };

const requestMessages: Record<RequestAction, object> = {
  search: { type: 'object', required: ['intent'], properties: { intent: ref('Intent') } },
  select: { type: 'object', required: ['order'], properties: { order: orderWithItems } },
  init: { type: 'object', required: ['order'], properties: { order: orderWithItems } },
  confirm: { type: 'object', required: ['order'], properties: { order: orderWithItems } },
  status: { type: 'object', required: ['order_id'], properties: { order_id: orderId } },
  track: {
    type: 'object',
    required: ['order_id'],
    properties: { order_id: orderId, callback_url: { type: 'string', format: 'uri' } },
  },
  cancel: {
    type: 'object',
    required: ['order_id'],
    properties: { order_id: orderId, cancellation_reason_id: { type: 'string' }, descriptor: ref('Descriptor') },
  },
  update: {
    type: 'object',
    required: ['update_target', 'order'],
    properties: { update_target: { type: 'string', minLength: 1 }, order: ref('Order') },
  },
  rating: {
    type: 'object',
    required: ['ratings'],
    properties: { ratings: { type: 'array', minItems: 1, items: ref('Rating') } },
  },
  support: { type: 'object', required: ['support'], properties: { support: ref('Support') } },
};

const callbackMessages: Record<CallbackAction, object> = {
  on_search: { type: 'object', required: ['catalog'], properties: { catalog: ref('Catalog') } },
  on_select: { type: 'object', required: ['order'], properties: { order: ref('Order') } },
  on_init: { type: 'object', required: ['order'], properties: { order: ref('Order') } },
  on_confirm: { type: 'object', required: ['order'], properties: { order: ref('Order') } },
  on_status: { type: 'object', required: ['order'], properties: { order: ref('Order') } },
  on_track: { type: 'object', required: ['tracking'], properties: { tracking: ref('Tracking') } },
  on_cancel: { type: 'object', required: ['order'], properties: { order: ref('Order') } },
  on_update: { type: 'object', required: ['order'], properties: { order: ref('Order') } },
  on_rating: { type: 'object', properties: { feedback_form: ref('XInput') } },
  on_support: { type: 'object', required: ['support'], properties: { support: ref('Support') } },
};

const contextFor = (action: Action, callback: boolean) => ({
  allOf: [
    ref('Context'),
    {
      type: 'object',
      properties: { action: { const: action } },
      ...(callback ? { required: ['bpp_id', 'bpp_uri'] } : {}),
    },
  ],
});

const requestSchema = (action: RequestAction) => ({
  $id: `${BASE}${action}.json`,
  type: 'object',
  required: ['context', 'message'],
  properties: { context: contextFor(action, false), message: requestMessages[action] },
});

// transaction.yaml: a callback may carry `error` instead of `message` (the BPP could not do it).
const callbackSchema = (action: CallbackAction) => ({
  $id: `${BASE}${action}.json`,
  type: 'object',
  required: ['context'],
  properties: { context: contextFor(action, true), message: callbackMessages[action], error: ref('Error') },
  if: { not: { required: ['error'] } },
  then: { required: ['message'] },
});

export const ACK_SCHEMA_ID = `${BASE}ack.json`;

/** transaction.yaml `responses.default`: the synchronous answer to every call. */
export const ackSchema = {
  $id: ACK_SCHEMA_ID,
  type: 'object',
  required: ['message'],
  properties: {
    message: {
      type: 'object',
      required: ['ack'],
      properties: {
        ack: {
          type: 'object',
          required: ['status'],
          properties: { status: { enum: ['ACK', 'NACK'] }, tags: { type: 'array', items: ref('TagGroup') } },
        },
      },
    },
    error: ref('Error'),
  },
} as const;

export const messageSchemas = (): { action: Action; schema: object }[] => [
  ...REQUEST_ACTIONS.map((a) => ({ action: a as Action, schema: requestSchema(a) })),
  ...REQUEST_ACTIONS.map(callbackOf).map((a) => ({ action: a as Action, schema: callbackSchema(a) })),
];
