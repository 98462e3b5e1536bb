// The gateway (BG) on a loopback network: one search from the BAP reaches two BPPs, each verifies the
// BAP's and the gateway's signatures and answers on_search to the BAP directly. A bad gateway
// signature gets 401 with Proxy-Authenticate (BECKN-006 Step 4) and no effect. An on_search signed by
// a BPP and sent to the gateway is verified and relayed to the BAP (BECKN-006 Steps 7–9).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BecknClient } from '../../src/beckn/client.ts';
import { buildContext, type BecknMessage } from '../../src/beckn/context.ts';
import { createGateway } from '../../src/beckn/gateway.ts';
import { signatureHeader } from '../../src/beckn/http.ts';
import type { Inbound } from '../../src/beckn/inbound.ts';
import { registerReceiver } from '../../src/beckn/receiver.ts';
import type { Signer, Store } from '../../src/ports.ts';
import { eventually, listen, startNetwork, type TestNetwork } from '../helpers/network.ts';

let net: TestNetwork;
let bap: Signer;
let gw: Signer;
let urls: { bap: string; gateway: string; bpp1: string; bpp2: string };
const received: Record<string, Inbound[]> = { 'bpp1.test': [], 'bpp2.test': [] };
const onSearch: BecknMessage[] = [];
const onSearchIn: Inbound[] = [];
const bppClients: Record<string, BecknClient> = {};
let bapClient: BecknClient;
let stopGateway: () => Promise<void>;
let gwStore: Store;
/** The paths posted to the BPP registered as 2.0. */
const v2Hits: string[] = [];

const searchMsg = (patch: Partial<ReturnType<typeof buildContext>> = {}): BecknMessage => ({
  context: {
    ...buildContext({ action: 'search', bapId: bap.subscriberId, bapUri: urls.bap, now: Date.now() }),
    ...patch,
  },
  message: { intent: { descriptor: { code: 'demand-reduction' } } },
});

before(async () => {
  net = await startNetwork();
  bap = net.signer('bap.test');
  gw = net.signer('gateway.test');
  const bapApp = net.app();
  registerReceiver(bapApp, {
    subscriberId: bap.subscriberId,
    role: 'BAP',
    resolver: net.resolver,
    store: await net.store('bap'),
    now: Date.now,
    onBackgroundError: () => {},
    handlers: {
      on_search: async (i) => {
        onSearch.push(i.msg);
        onSearchIn.push(i);
      },
    },
  });
  const bppUrls: string[] = [];
  for (const id of ['bpp1.test', 'bpp2.test']) {
    const signer = net.signer(id);
    const store = await net.store(id);
    const client = new BecknClient({ signer, store, now: Date.now, ackResolver: net.resolver });
    bppClients[id] = client;
    const app = net.app();
    registerReceiver(app, {
      subscriberId: id,
      role: 'BPP',
      resolver: net.resolver,
      store,
      now: Date.now,
      ackSigner: signer,
      onBackgroundError: () => {},
      handlers: {
        search: async (i) => {
          received[id]?.push(i);
          return async () => {
            const c = i.msg.context;
            const context = buildContext({
              action: 'on_search',
              bapId: c.bap_id,
              bapUri: c.bap_uri,
              bppId: id,
              bppUri: bppUrls[id === 'bpp1.test' ? 0 : 1] as string,
              transactionId: c.transaction_id,
              messageId: c.message_id,
              now: Date.now(),
            });
            await client.send(c.bap_uri, {
              context,
              message: { catalog: { providers: [{ id, items: [{ id: `${id}-offer` }] }] } },
            });
          };
        },
      },
    });
    bppUrls.push(await listen(app));
    await net.subscribe(signer, 'BPP', bppUrls.at(-1) as string);
  }
  gwStore = await net.store('gateway');
  const gateway = createGateway({
    signer: gw,
    registry: net.registry,
    resolver: net.resolver,
    ackResolver: net.resolver,
    store: gwStore,
    now: Date.now,
  });
  urls = {
    bap: await listen(bapApp),
    gateway: await listen(gateway.app),
    bpp1: bppUrls[0] as string,
    bpp2: bppUrls[1] as string,
  };
  await net.subscribe(bap, 'BAP', urls.bap);
  await net.subscribe(gw, 'BG', urls.gateway);
  // A BPP registered as Beckn 2.0 at its 2.0 base: it records whatever reaches it.
  const v2App = net.app();
  v2App.post('/*', async (req) => {
    v2Hits.push(req.url);
    return { message: { ack: { status: 'ACK' } } };
  });
  await net.subscribe(net.signer('bpp-v2.test'), 'BPP', `${await listen(v2App)}/v2`, { beckn_version: '2.0.0' });
  bapClient = new BecknClient({
    signer: bap,
    store: await net.store('bap-out'),
    now: Date.now,
    ackResolver: net.resolver,
  });
  stopGateway = () => gateway.app.close();
});

after(async () => {
  await stopGateway();
  await net.stop();
});

test('one search through the gateway reaches both BPPs, and both on_search come back to the BAP directly', async () => {
  const msg = searchMsg();
  const ack = await bapClient.send(urls.gateway, msg, { peer: gw.subscriberId });
  assert.equal(ack.message.ack.status, 'ACK');
  await eventually(
    () => onSearch.filter((m) => m.context.message_id === msg.context.message_id).length === 2,
    'two on_search callbacks',
  );
  const answers = onSearch.filter((m) => m.context.message_id === msg.context.message_id);
  assert.deepEqual(answers.map((m) => m.context.bpp_id).sort(), ['bpp1.test', 'bpp2.test']);
  for (const id of ['bpp1.test', 'bpp2.test']) {
    const got = received[id]?.find((i) => i.msg.context.message_id === msg.context.message_id);
    assert.equal(got?.gateway?.subscriberId, gw.subscriberId, `${id} verified the gateway's signature`);
    assert.equal(got?.sender.subscriberId, bap.subscriberId, `${id} verified the BAP's own signature`);
    assert.equal(got?.raw.toString('utf8'), JSON.stringify(msg), 'the exact bytes were forwarded');
  }
});

test('a search naming context.bpp_id goes only to that BPP', async () => {
  const msg = searchMsg({ bpp_id: 'bpp2.test', bpp_uri: urls.bpp2 });
  await bapClient.send(urls.gateway, msg, { peer: gw.subscriberId });
  await eventually(() => onSearch.some((m) => m.context.message_id === msg.context.message_id), 'on_search from bpp2');
  assert.equal(
    received['bpp1.test']?.some((i) => i.msg.context.message_id === msg.context.message_id),
    false,
  );
});

test('the gateway does not forward a 1.1.1 search to a BPP registered as Beckn 2.0; naming it is a coded NACK', async () => {
  const msg = searchMsg();
  await bapClient.send(urls.gateway, msg, { peer: gw.subscriberId });
  await eventually(
    () => onSearch.filter((m) => m.context.message_id === msg.context.message_id).length === 2,
    'both 1.1.1 BPPs answered',
  );
  const out = (await gwStore.auditTrail({ transactionId: msg.context.transaction_id })).filter(
    (a) => a.kind === 'beckn.out',
  );
  assert.deepEqual(out.map((a) => (a.payload as { to: string }).to).sort(), ['bpp1.test', 'bpp2.test']);
  assert.deepEqual(v2Hits, [], 'nothing was posted to the 2.0 BPP');
  await assert.rejects(
    bapClient.send(urls.gateway, searchMsg({ bpp_id: 'bpp-v2.test' }), { peer: gw.subscriberId }),
    (e: Error & { code?: string }) => /FLX_REQ_CONTEXT|registered as 2\.0/.test(`${e.code} ${e.message}`),
  );
  assert.deepEqual(v2Hits, []);
});

const direct = async (msg: BecknMessage, gatewayHeader: string) => {
  const body = JSON.stringify(msg);
  const res = await fetch(`${urls.bpp1}/search`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      authorization: signatureHeader(body, bap, Date.now(), 30),
      'x-gateway-authorization': gatewayHeader.replace('BODY', body),
    },
  });
  return {
    status: res.status,
    proxy: res.headers.get('proxy-authenticate'),
    www: res.headers.get('www-authenticate'),
    body: (await res.json()) as { error?: { message: string } },
  };
};

test('a bad X-Gateway-Authorization gets 401 with Proxy-Authenticate and no effect', async () => {
  const before = received['bpp1.test']?.length ?? 0;
  const forged = net.signer('gateway.test', 'not-registered');
  const cases: [string, (body: string) => string, RegExp][] = [
    ['unknown gateway key', (body) => signatureHeader(body, forged, Date.now(), 30), /FLX_SIG_UNKNOWN_KEY/],
    ['signed over other bytes', (body) => signatureHeader(`${body} `, gw, Date.now(), 30), /FLX_SIG_INVALID/],
    ['a BAP posing as a gateway', (body) => signatureHeader(body, bap, Date.now(), 30), /registered as BAP, not BG/],
    ['malformed', () => 'Signature nonsense', /FLX_SIG_MALFORMED/],
  ];
  for (const [name, header, why] of cases) {
    const msg = searchMsg();
    const body = JSON.stringify(msg);
    const r = await direct(msg, header(body));
    assert.equal(r.status, 401, name);
    assert.equal(r.proxy, 'Signature realm="bpp1.test",headers="(created) (expires) digest"', name);
    assert.equal(r.www, null, name);
    assert.match(r.body.error?.message ?? '', /^FLX_SIG_GATEWAY: X-Gateway-Authorization: /, name);
    assert.match(r.body.error?.message ?? '', why, name);
  }
  assert.equal(received['bpp1.test']?.length, before);
});

const onSearchMsg = (bppId: string, bppUri: string, bapId = bap.subscriberId): BecknMessage => ({
  context: buildContext({
    action: 'on_search',
    bapId,
    bapUri: urls.bap,
    bppId,
    bppUri,
    now: Date.now(),
  }),
  message: { catalog: { providers: [{ id: bppId, items: [{ id: `${bppId}-relayed` }] }] } },
});

test('an on_search signed by a BPP and sent to the gateway is verified and relayed to the BAP (BECKN-006 Steps 7–9)', async () => {
  const msg = onSearchMsg('bpp1.test', urls.bpp1);
  const ack = await (bppClients['bpp1.test'] as BecknClient).send(urls.gateway, msg, { peer: gw.subscriberId });
  assert.equal(ack.message.ack.status, 'ACK');
  await eventually(
    () => onSearchIn.some((i) => i.msg.context.message_id === msg.context.message_id),
    'relayed on_search',
  );
  const got = onSearchIn.find((i) => i.msg.context.message_id === msg.context.message_id) as Inbound;
  assert.equal(got.gateway?.subscriberId, gw.subscriberId, "the BAP verified the gateway's X-Gateway-Authorization");
  assert.equal(got.sender.subscriberId, 'bpp1.test', "the BAP verified the BPP's own signature");
  assert.equal(got.raw.toString('utf8'), JSON.stringify(msg), 'the exact bytes were relayed');
  // The gateway audited the relay, and the BAP's ACK (unsigned here, as core 1.1.1 allows) as such.
  const relayedRows = async () =>
    (await gwStore.auditTrail()).filter((r) => r.kind === 'beckn.out' && r.messageId === msg.context.message_id);
  // The BAP takes the message before it answers; the gateway audits the relay once the answer is in.
  await eventually(async () => (await relayedRows()).length > 0, "the gateway's audit row of the relay");
  const relayed = await relayedRows();
  assert.deepEqual(
    relayed.map((r) => {
      const p = r.payload as { action: string; to: string; outcome: string; ackCheck: string };
      return [p.action, p.to, p.outcome, p.ackCheck];
    }),
    [['on_search', bap.subscriberId, 'ACK', 'unsigned ACK accepted by policy']],
  );
});

test('the gateway refuses an on_search from a BAP (only a BPP answers a search) and one for a BAP nobody subscribed', async () => {
  const fromBap = onSearchMsg(bap.subscriberId, urls.bap);
  await assert.rejects(
    bapClient.send(urls.gateway, fromBap, { peer: gw.subscriberId }),
    /FLX_SIG_WRONG_SUBSCRIBER: bap.test is registered as BAP; only a BPP sends on_search/,
  );
  const stranger = onSearchMsg('bpp2.test', urls.bpp2, 'nobody.test');
  await assert.rejects(
    (bppClients['bpp2.test'] as BecknClient).send(urls.gateway, stranger, { peer: gw.subscriberId }),
    /FLX_REQ_CONTEXT: no BAP nobody.test is subscribed/,
  );
  assert.equal(
    onSearch.some((m) => [fromBap, stranger].some((x) => x.context.message_id === m.context.message_id)),
    false,
  );
});
