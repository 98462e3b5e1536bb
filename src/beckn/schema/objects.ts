// FlexLon's own JSON Schemas (draft-07, for ajv) for the Beckn core 1.1 objects it sends and reads.
// Written for this project from the object model of core 1.1.1 (transaction.yaml components.schemas):
// same field names, types, enums and formats, with two deliberate differences —
//   * DecimalValue is anchored (^…$); the published pattern is unanchored and accepts "abc1";
//   * objects stay open (no additionalProperties: false): Beckn objects are extended by network
//     policies (BECKN-009 tags, layer-2 fields) and a strict schema would refuse conformant peers.
// The per-action message schemas are in actions.ts; validator.ts compiles both once.

export const DEFS_ID = 'https://flexlon.invalid/schemas/beckn-core-1.1/objects.json';
export const ref = (name: string): { $ref: string } => ({ $ref: `${DEFS_ID}#/definitions/${name}` });

const str = { type: 'string' } as const;
const nonEmpty = { type: 'string', minLength: 1 } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const uri = { type: 'string', format: 'uri' } as const;
const arrayOf = (name: string) => ({ type: 'array', items: ref(name) });
// Bounds on the context's names and URLs (issue 14: string lengths in every schema). A gateway and a
// BAP look the sender up in the registry by these; a 1.3 MB bap_id made the registry refuse the
// lookup (413) and the gateway answer HTTP 502 (found by the resilience suite). Core 1.1.1 sets no
// length; a subscriber id is a domain name (at most 253 characters), a URL of 2,048 is generous.
const contextName = { type: 'string', minLength: 1, maxLength: 255 } as const;
const contextUri = { type: 'string', format: 'uri', maxLength: 2048 } as const;

/** ISO 8601 durations of the forms networks send (PT30S, PT5M, P1D, P1DT2H, PT0.5S). */
export const DURATION_PATTERN = '^P(?!$)(\\d+Y)?(\\d+M)?(\\d+W)?(\\d+D)?(T(?=\\d)(\\d+H)?(\\d+M)?(\\d+(\\.\\d+)?S)?)?$';

const definitions = {
  DecimalValue: { type: 'string', pattern: '^[+-]?([0-9]*[.])?[0-9]+$' },
  Duration: { type: 'string', pattern: DURATION_PATTERN },
  Descriptor: {
    type: 'object',
    properties: {
      name: str,
      code: str,
      short_desc: str,
      long_desc: str,
      additional_desc: {
        type: 'object',
        properties: { url: str, content_type: { enum: ['text/plain', 'text/html', 'application/json'] } },
      },
      media: {
        type: 'array',
        items: { type: 'object', properties: { mimetype: str, url: uri, signature: str, dsa: str } },
      },
      images: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            url: uri,
            size_type: { enum: ['xs', 'sm', 'md', 'lg', 'xl', 'custom'] },
            width: str,
            height: str,
          },
        },
      },
    },
  },
  Tag: { type: 'object', properties: { descriptor: ref('Descriptor'), value: str, display: { type: 'boolean' } } },
  TagGroup: {
    type: 'object',
    properties: { display: { type: 'boolean' }, descriptor: ref('Descriptor'), list: arrayOf('Tag') },
  },
  Price: {
    type: 'object',
    properties: {
      currency: str,
      value: ref('DecimalValue'),
      estimated_value: ref('DecimalValue'),
      computed_value: ref('DecimalValue'),
      listed_value: ref('DecimalValue'),
      offered_value: ref('DecimalValue'),
      minimum_value: ref('DecimalValue'),
      maximum_value: ref('DecimalValue'),
    },
  },
  Scalar: {
    type: 'object',
    properties: {
      type: { enum: ['CONSTANT', 'VARIABLE'] },
      value: ref('DecimalValue'),
      estimated_value: ref('DecimalValue'),
      computed_value: ref('DecimalValue'),
      range: { type: 'object', properties: { min: ref('DecimalValue'), max: ref('DecimalValue') } },
      unit: str,
    },
  },
  Quantity: { type: 'object', properties: { count: { type: 'integer', minimum: 0 }, measure: ref('Scalar') } },
  ItemQuantity: {
    type: 'object',
    properties: {
      allocated: ref('Quantity'),
      available: ref('Quantity'),
      maximum: ref('Quantity'),
      minimum: ref('Quantity'),
      selected: ref('Quantity'),
      unitized: ref('Quantity'),
    },
  },
  Time: {
    type: 'object',
    properties: {
      label: str,
      timestamp: dateTime,
      duration: ref('Duration'),
      days: str,
      range: { type: 'object', properties: { start: dateTime, end: dateTime } },
      schedule: {
        type: 'object',
        properties: {
          frequency: ref('Duration'),
          holidays: { type: 'array', items: dateTime },
          times: { type: 'array', items: dateTime },
        },
      },
    },
  },
  Contact: { type: 'object', properties: { phone: str, email: str, jcard: { type: 'object' } } },
  Location: {
    type: 'object',
    properties: {
      id: str,
      descriptor: ref('Descriptor'),
      map_url: uri,
      gps: str,
      address: str,
      district: str,
      area_code: str,
      polygon: str,
      '3dspace': str,
      rating: str,
      city: { type: 'object', properties: { name: str, code: str } },
      state: { type: 'object', properties: { name: str, code: str } },
      country: { type: 'object', properties: { name: str, code: str } },
    },
  },
  Stop: {
    type: 'object',
    properties: {
      id: str,
      parent_stop_id: str,
      location: ref('Location'),
      type: str,
      time: ref('Time'),
      instructions: ref('Descriptor'),
      contact: ref('Contact'),
    },
  },
  FulfillmentState: {
    type: 'object',
    properties: { descriptor: ref('Descriptor'), updated_at: dateTime, updated_by: str },
  },
  Fulfillment: {
    type: 'object',
    properties: {
      id: str,
      type: str,
      rateable: { type: 'boolean' },
      rating: str,
      state: ref('FulfillmentState'),
      tracking: { type: 'boolean' },
      contact: ref('Contact'),
      stops: arrayOf('Stop'),
      path: str,
      tags: arrayOf('TagGroup'),
    },
  },
  CancellationTerm: {
    type: 'object',
    properties: {
      fulfillment_state: ref('FulfillmentState'),
      reason_required: { type: 'boolean' },
      cancel_by: ref('Time'),
      cancellation_fee: { type: 'object', properties: { percentage: ref('DecimalValue'), amount: ref('Price') } },
    },
  },
  Item: {
    type: 'object',
    properties: {
      id: str,
      parent_item_id: str,
      descriptor: ref('Descriptor'),
      price: ref('Price'),
      quantity: ref('ItemQuantity'),
      category_ids: { type: 'array', items: str },
      fulfillment_ids: { type: 'array', items: str },
      location_ids: { type: 'array', items: str },
      payment_ids: { type: 'array', items: str },
      cancellation_terms: arrayOf('CancellationTerm'),
      time: ref('Time'),
      rateable: { type: 'boolean' },
      rating: str,
      matched: { type: 'boolean' },
      related: { type: 'boolean' },
      recommended: { type: 'boolean' },
      ttl: str,
      tags: arrayOf('TagGroup'),
    },
  },
  Provider: {
    type: 'object',
    properties: {
      id: str,
      descriptor: ref('Descriptor'),
      category_id: str,
      rating: str,
      time: ref('Time'),
      fulfillments: arrayOf('Fulfillment'),
      payments: arrayOf('Payment'),
      locations: arrayOf('Location'),
      items: arrayOf('Item'),
      exp: dateTime,
      rateable: { type: 'boolean' },
      ttl: { type: 'integer', minimum: -1 },
      tags: arrayOf('TagGroup'),
    },
  },
  Catalog: {
    type: 'object',
    properties: {
      descriptor: ref('Descriptor'),
      fulfillments: arrayOf('Fulfillment'),
      payments: arrayOf('Payment'),
      providers: arrayOf('Provider'),
      exp: dateTime,
      ttl: str,
    },
  },
  Intent: {
    type: 'object',
    properties: {
      descriptor: ref('Descriptor'),
      provider: ref('Provider'),
      fulfillment: ref('Fulfillment'),
      payment: ref('Payment'),
      item: ref('Item'),
      tags: arrayOf('TagGroup'),
    },
  },
  Payment: {
    type: 'object',
    properties: {
      id: str,
      collected_by: str,
      url: uri,
      params: {
        type: 'object',
        properties: {
          transaction_id: str,
          amount: ref('DecimalValue'),
          currency: str,
          bank_code: str,
          bank_account_number: str,
          virtual_payment_address: str,
        },
      },
      type: { enum: ['PRE-ORDER', 'PRE-FULFILLMENT', 'ON-FULFILLMENT', 'POST-FULFILLMENT'] },
      status: { enum: ['PAID', 'NOT-PAID'] },
      time: ref('Time'),
      tags: arrayOf('TagGroup'),
    },
  },
  Billing: {
    type: 'object',
    properties: {
      name: str,
      address: str,
      email: { type: 'string', format: 'email' },
      phone: str,
      tax_id: str,
      time: ref('Time'),
    },
  },
  Quotation: {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      price: ref('Price'),
      ttl: ref('Duration'),
      breakup: {
        type: 'array',
        items: { type: 'object', properties: { item: ref('Item'), title: str, price: ref('Price') } },
      },
    },
  },
  Option: { type: 'object', properties: { id: str, descriptor: ref('Descriptor') } },
  Cancellation: {
    type: 'object',
    properties: {
      time: dateTime,
      cancelled_by: { enum: ['CONSUMER', 'PROVIDER'] },
      reason: ref('Option'),
      additional_description: ref('Descriptor'),
    },
  },
  Order: {
    type: 'object',
    properties: {
      id: nonEmpty,
      ref_order_ids: { type: 'array', items: str },
      status: { enum: ['ACTIVE', 'COMPLETE', 'CANCELLED'] },
      type: { enum: ['DRAFT', 'DEFAULT'] },
      provider: ref('Provider'),
      items: arrayOf('Item'),
      billing: ref('Billing'),
      fulfillments: arrayOf('Fulfillment'),
      cancellation: ref('Cancellation'),
      cancellation_terms: arrayOf('CancellationTerm'),
      quote: ref('Quotation'),
      payments: arrayOf('Payment'),
      created_at: dateTime,
      updated_at: dateTime,
      xinput: ref('XInput'),
      tags: arrayOf('TagGroup'),
    },
  },
  Rating: {
    type: 'object',
    required: ['rating_category', 'id', 'value'],
    properties: {
      rating_category: { enum: ['Item', 'Order', 'Fulfillment', 'Provider', 'Agent', 'Support'] },
      id: nonEmpty,
      value: str,
    },
  },
  Support: {
    type: 'object',
    properties: { ref_id: str, callback_phone: str, phone: str, email: { type: 'string', format: 'email' }, url: uri },
  },
  Tracking: {
    type: 'object',
    properties: { id: str, url: uri, location: ref('Location'), status: { enum: ['active', 'inactive'] } },
  },
  XInput: {
    type: 'object',
    properties: {
      form: {
        type: 'object',
        properties: {
          url: uri,
          data: { type: 'object', additionalProperties: str },
          mime_type: { enum: ['text/html', 'application/xml'] },
          submission_id: { type: 'string', format: 'uuid' },
        },
      },
      required: { type: 'boolean' },
    },
  },
  Error: { type: 'object', required: ['code', 'message'], properties: { code: nonEmpty, paths: str, message: str } },
  Context: {
    type: 'object',
    required: ['domain', 'action', 'version', 'bap_id', 'bap_uri', 'transaction_id', 'message_id', 'timestamp'],
    properties: {
      domain: contextName,
      location: ref('Location'),
      action: contextName,
      version: contextName,
      bap_id: contextName,
      bap_uri: contextUri,
      bpp_id: contextName,
      bpp_uri: contextUri,
      // core 1.1.1 Context: transaction_id and message_id are uuids, timestamp RFC 3339, ttl ISO 8601.
      transaction_id: { type: 'string', format: 'uuid' },
      message_id: { type: 'string', format: 'uuid' },
      timestamp: dateTime,
      key: str,
      ttl: ref('Duration'),
    },
  },
} as const;

export const objectsSchema = { $id: DEFS_ID, $schema: 'http://json-schema.org/draft-07/schema#', definitions } as const;
export type ObjectName = keyof typeof definitions;
