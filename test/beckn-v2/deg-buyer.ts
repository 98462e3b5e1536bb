// A Beckn 2.0 (core v2.0.0 LTS) buyer for tests, written with node:crypto and node:http only, so it
// checks FlexLon against the documents rather than against FlexLon's own 2.0 code: it signs its
// requests (14_Signing = BECKN-006), answers every callback with a beckn.yaml Ack counter-signed per
// its reading of `CounterSignature`, records what it receives, and checks the BPP's signatures and
// counter-signatures with the BPP's registered key. Also: the official LTS beckn.yaml and the DEG
// attribute schemas, read from ../shared at test time.
import assert from 'node:assert/strict';
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { parse } from 'yaml';
import { HttpRegistry } from '../../src/adapters/registry-http/client.ts';
import type { Market } from '../../src/compose/index.ts';
import type { Signer } from '../../src/ports.ts';
import { sharedPath } from '../helpers/shared.ts';

const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;
export const LTS = sharedPath('beckn', 'protocol-specifications-v2', 'core-v2.0.0-lts', 'api', 'v2.0.0', 'beckn.yaml');
const COUNTER_HEADERS = '(created) (expires) digest (request-digest) (message-id)';

export type Obj = Record<string, unknown>;
export interface Msg {
  context: Obj & { action: string; messageId: string; transactionId: string; requestDigest?: { digest: string } };
  message: Obj;
}
export interface Received {
  readonly msg: Msg;
  readonly raw: Buffer;
  readonly authorization: string;
}
export interface AckSeen {
  readonly action: string;
  readonly http: number;
  readonly text: string;
  readonly request: Buffer;
  readonly messageId: string;
}

export const b2 = (x: Uint8Array | string): string => createHash('blake2b512').update(x).digest('base64');

export const params = (header: string): Map<string, string> =>
  new Map([...header.matchAll(/([a-zA-Z]+)="([^"]*)"/g)].map((x) => [x[1] as string, x[2] as string]));

export interface DegBuyer {
  readonly id: string;
  readonly url: string;
  readonly received: Received[];
  readonly acks: AckSeen[];
  context(action: string, transactionId: string): Msg['context'];
  /** Signs and posts a 2.0 request to the BPP's /v2 endpoint; records the Ack. */
  post(
    msg: Msg,
    body?: string,
    signedBody?: string,
  ): Promise<{ http: number; ack: Obj; request: Buffer; text: string }>;
  /** A request with its counter-signed ACK checked, and its callback (which must name the request). */
  ask(action: string, transactionId: string, message: Obj): Promise<Msg>;
  /** The BPP's counter-signature over `text` answering `request`. */
  counterSignatureValid(text: string, request: Buffer, messageId: string): boolean;
  /** The BPP's Authorization over a callback's bytes. */
  signedByBpp(r: Received): boolean;
  stop(): Promise<void>;
}

export const startDegBuyer = async (m: Market, id = 'deg-buyer.example'): Promise<DegBuyer> => {
  const keyId = `${id}-k1`;
  const pair = generateKeyPairSync('ed25519');
  const privateKey = pair.privateKey;
  const publicKeyBase64 = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString(
    'base64',
  );
  const received: Received[] = [];
  const acks: AckSeen[] = [];
  const authorization = (body: string): string => {
    const created = Math.floor(Date.now() / 1000);
    const expires = created + 30;
    const s = `(created): ${created}\n(expires): ${expires}\ndigest: BLAKE-512=${b2(body)}`;
    const sig = sign(null, Buffer.from(s), privateKey).toString('base64');
    return `Signature keyId="${id}|${keyId}|ed25519",algorithm="ed25519",created="${created}",expires="${expires}",headers="(created) (expires) digest",signature="${sig}"`;
  };
  const counterSignedAck = (request: Buffer, messageId: string): string => {
    const ack = { status: 'ACK' };
    const created = Math.floor(Date.now() / 1000);
    const expires = created + 30;
    const s =
      `(created): ${created}\n(expires): ${expires}\ndigest: BLAKE-512=${b2(JSON.stringify(ack))}\n` +
      `(request-digest): BLAKE-512=${b2(request)}\n(message-id): ${messageId}`;
    const sig = sign(null, Buffer.from(s), privateKey).toString('base64');
    return JSON.stringify({
      ...ack,
      signature: `Signature keyId="${id}|${keyId}|ed25519",algorithm="ed25519",created="${created}",expires="${expires}",headers="${COUNTER_HEADERS}",signature="${sig}"`,
    });
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const msg = JSON.parse(raw.toString('utf8')) as Msg;
      received.push({ msg, raw, authorization: req.headers.authorization ?? '' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(counterSignedAck(raw, msg.context.messageId));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const signer: Signer = {
    subscriberId: id,
    uniqueKeyId: keyId,
    publicKeyBase64,
    sign: (d) => sign(null, d, privateKey),
  };
  const registry = new HttpRegistry({ url: m.urls.registry, now: Date.now }, signer);
  const now = Date.now();
  await registry.subscribe({
    subscriber_id: id,
    subscriber_url: url,
    type: 'BAP',
    domain: 'uei:compute_flexibility',
    unique_key_id: keyId,
    signing_public_key: publicKeyBase64,
    valid_from: new Date(now - 60_000).toISOString(),
    valid_until: new Date(now + 86_400_000).toISOString(),
    status: 'SUBSCRIBED',
  });
  const [bpp] = await registry.lookup({ subscriber_id: m.bpp.id });
  assert.ok(bpp, 'the BPP is in the registry');
  const bppKey: KeyObject = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(bpp.signing_public_key, 'base64')]),
    format: 'der',
    type: 'spki',
  });

  const buyer: DegBuyer = {
    id,
    url,
    received,
    acks,
    context: (action, transactionId) => ({
      domain: 'uei:compute_flexibility',
      action,
      version: '2.0.0',
      bapId: id,
      bapUri: url,
      bppId: m.bpp.id,
      bppUri: `${m.urls.bpp}/v2`,
      transactionId,
      messageId: randomUUID(),
      timestamp: new Date().toISOString(),
      ttl: 'PT30S',
    }),
    async post(msg, body = JSON.stringify(msg), signedBody = body) {
      const res = await fetch(`${m.urls.bpp}/v2/${msg.context.action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: authorization(signedBody) },
        body,
      });
      const text = await res.text();
      const request = Buffer.from(body);
      acks.push({ action: msg.context.action, http: res.status, text, request, messageId: msg.context.messageId });
      return { http: res.status, ack: JSON.parse(text) as Obj, request, text };
    },
    async ask(action, transactionId, message) {
      const msg = { context: buyer.context(action, transactionId), message };
      const { http, ack, request } = await buyer.post(msg);
      assert.equal(http, 200, `${action}: ${JSON.stringify(ack)}`);
      assert.equal(ack.status, 'ACK');
      const until = Date.now() + 30_000;
      for (;;) {
        const got = received.find((r) => r.msg.context.messageId === msg.context.messageId);
        if (got) {
          assert.equal(got.msg.context.action, `on_${action}`);
          // LTS Context.requestDigest binds the callback to this very request.
          assert.equal(
            got.msg.context.requestDigest?.digest,
            `BLAKE-512=${b2(request)}`,
            `on_${action} names its request`,
          );
          return got.msg;
        }
        if (Date.now() > until) throw new Error(`no on_${action} for ${msg.context.messageId} within 30 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    counterSignatureValid(text, request, messageId) {
      const { signature, ...rest } = JSON.parse(text) as { signature: string };
      const p = params(signature);
      if (p.get('headers') !== COUNTER_HEADERS || !p.get('keyId')?.startsWith(`${m.bpp.id}|`)) return false;
      const s =
        `(created): ${p.get('created')}\n(expires): ${p.get('expires')}\ndigest: BLAKE-512=${b2(JSON.stringify(rest))}\n` +
        `(request-digest): BLAKE-512=${b2(request)}\n(message-id): ${messageId}`;
      return verify(null, Buffer.from(s), bppKey, Buffer.from(p.get('signature') ?? '', 'base64'));
    },
    signedByBpp(r) {
      const p = params(r.authorization);
      if (!p.get('keyId')?.startsWith(`${m.bpp.id}|`)) return false;
      const s = `(created): ${p.get('created')}\n(expires): ${p.get('expires')}\ndigest: BLAKE-512=${b2(r.raw)}`;
      return verify(null, Buffer.from(s), bppKey, Buffer.from(p.get('signature') ?? '', 'base64'));
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
  return buyer;
};

/** A schema of the LTS beckn.yaml by JSON pointer (e.g. `#/components/schemas/Ack`). */
export const ltsSchema = (pointer: string): ValidateFunction => {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema(parse(readFileSync(LTS, 'utf8')) as object, 'lts');
  const v = ajv.getSchema(`lts${pointer}`);
  assert.ok(v, pointer);
  return v;
};

/**
 * DEG DemandFlexPerformance v2.0 with BecknTimeSeries v1.0, from ../shared/beckn/DEG/index-2026.
 * BecknTimeSeries refers to OpenADR 3.1 schemas at schema.beckn.io, which are not in ../shared: those
 * references are checked against stand-ins written from OpenADR's field names (stated where used).
 */
export const demandFlexPerformanceSchema = (): ValidateFunction => {
  const spec = (name: string) =>
    parse(
      readFileSync(
        sharedPath('beckn', 'DEG', 'index-2026', 'specification', 'schema', name, 'attributes.yaml'),
        'utf8',
      ),
    ) as {
      components: { schemas: Record<string, object> };
    };
  const openadr = 'https://schema.beckn.io/openadr/v3.1.0';
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  // Stand-ins for the OpenADR 3.1 schemas, from their field names only (not the official file).
  const descriptor = (kind: string) => ({
    type: 'object',
    required: ['objectType', 'payloadType'],
    properties: { objectType: { const: kind }, payloadType: { type: 'string' }, units: { type: 'string' } },
  });
  ajv.addSchema({
    $id: openadr,
    components: {
      schemas: {
        intervalPeriod: {
          type: 'object',
          required: ['start'],
          properties: { start: { type: 'string', format: 'date-time' }, duration: { type: 'string' } },
        },
        interval: {
          type: 'object',
          required: ['id', 'payloads'],
          properties: {
            id: { type: 'integer' },
            payloads: {
              type: 'array',
              items: { type: 'object', required: ['type', 'values'], properties: { values: { type: 'array' } } },
            },
          },
        },
        eventPayloadDescriptor: descriptor('EVENT_PAYLOAD_DESCRIPTOR'),
        reportPayloadDescriptor: descriptor('REPORT_PAYLOAD_DESCRIPTOR'),
      },
    },
  });
  ajv.addSchema({ ...spec('BecknTimeSeries/v1.0'), $id: 'https://schema.beckn.io/BecknTimeSeries/v1.0' });
  ajv.addSchema({ ...spec('DemandFlexPerformance/v2.0'), $id: 'https://deg.example/DemandFlexPerformance/v2.0' });
  const v = ajv.getSchema('https://deg.example/DemandFlexPerformance/v2.0#/components/schemas/DemandFlexPerformance');
  assert.ok(v);
  return v;
};

const isoZ = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

/** What a 2.0 buyer commits to after discover: the offer's capacity at the kW it buys. */
export interface Discovered {
  readonly onDiscover: Msg;
  readonly buy: number;
  readonly resourceId: string;
  readonly commitment: Obj;
}

/**
 * Discovers a REDUCE capacity for the window at no less than `kw` and returns the DRAFT commitment
 * that buys min(kw, what is offered). `textSearch` and `direction` add the mixed network's terms.
 */
export const discoverCommitment = async (
  buyer: DegBuyer,
  txn: string,
  window: { readonly windowStart: number; readonly windowEnd: number },
  kw: number,
  o: { readonly textSearch?: string; readonly direction?: boolean } = {},
): Promise<Discovered> => {
  const onDiscover = await buyer.ask('discover', txn, {
    intent: {
      ...(o.textSearch ? { textSearch: o.textSearch } : {}),
      filters: {
        type: 'jsonpath',
        expression:
          `$[?(${o.direction ? "@.resourceAttributes.direction == 'REDUCE' && " : ''}@.resourceAttributes.eventWindow.startDate == '${isoZ(window.windowStart)}'` +
          ` && @.resourceAttributes.eventWindow.endDate == '${isoZ(window.windowEnd)}' && @.resourceAttributes.maxCapacityKw >= ${kw})]`,
      },
    },
  });
  const catalog = (onDiscover.message.catalogs as Obj[])[0] as { offers: Obj[]; resources: Obj[] };
  const offer = catalog.offers[0] as { id: string; resourceIds: string[] };
  assert.ok(offer, 'the BPP offered a reduction in 2.0');
  const resource = catalog.resources.find((r) => r.id === offer.resourceIds[0]) as {
    id: string;
    resourceAttributes: { maxCapacityKw: number };
  };
  const buy = Math.min(kw, resource.resourceAttributes.maxCapacityKw);
  const commitment = {
    status: { descriptor: { code: 'DRAFT' } },
    resources: [{ id: resource.id, quantity: { unitCode: 'kW', unitQuantity: buy } }],
    offer: { id: offer.id, resourceIds: [resource.id] },
  };
  return { onDiscover, buy, resourceId: resource.id, commitment };
};
