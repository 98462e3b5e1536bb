// `npm run bench:beckn`: loads the BPP pipeline (verify + validate + dedupe + durable audit append +
// ACK) with autocannon over loopback and prints one JSON line
//   {reqPerSec, p50Ms, p99Ms, errors, requests, audited, allAudited, …}.
// The server runs in its own process (bench/beckn-server.ts). Every request is a distinct search,
// signed by one of four registered BAPs before the run (so the load generator spends no CPU on
// signing during it), with a distinct message_id: nothing is short-circuited as a duplicate.
// Options: --connections N (50) --duration S (10) --verify-threads N (1; 0 = on the event loop)
//          --journal loop|store (loop: group commit on the event loop, default; store: one commit per
//          claim and per row) --sign-acks
//          --loop: the whole loop. Each search also owes an on_search (same transaction as its claim),
//          which the BPP's outbox sends, signed, to the buyer: four real BAP receivers in this process
//          (HTTP on loopback, the BPP's signature verified against the registry, claim + audit in
//          the buyer's own SQLite journal). Adds {loop: {acked, delivered, deliveredWithinTtl,
//          shareWithinTtl, endToEndReqPerSec, e2eP50Ms, e2eP99Ms, stillOwed, dead, refused}} to the line.
//          --ttl S (30): the searches' context.ttl, counted from the run's start.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteJournal } from '../src/adapters/store-sqlite/journal.ts';
import { openSqliteStore } from '../src/adapters/store-sqlite/index.ts';
import { registryKeyResolver } from '../src/beckn/key-resolver.ts';
import { useRawJsonBody } from '../src/beckn/raw-body.ts';
import { registerOnSubscribe } from '../src/beckn/registry/on-subscribe.ts';
import { registerReceiver } from '../src/beckn/receiver.ts';
import { HttpRegistry } from '../src/adapters/registry-http/client.ts';
import { signerFromPrivateKey } from '../src/adapters/keystore-file/keystore.ts';
import { buildContext, FLEXLON_DOMAIN } from '../src/beckn/context.ts';
import { needToIntent } from '../src/beckn/flex-codec.ts';
import { generateKeyPair } from '../src/beckn/keys.ts';
import { signBody } from '../src/beckn/signing.ts';
import { epochMs } from '../src/domain/time.ts';
import { gbpPerMwh, kw } from '../src/domain/units.ts';
import type { Signer } from '../src/ports.ts';

const { values } = parseArgs({
  options: {
    connections: { type: 'string' },
    duration: { type: 'string' },
    journal: { type: 'string' },
    'sign-acks': { type: 'boolean' },
    'verify-threads': { type: 'string' },
    loop: { type: 'boolean' },
    ttl: { type: 'string' },
  },
});
const loop = Boolean(values.loop);
const ttlSeconds = loop ? Number(values.ttl ?? 30) : 600;
const verifyThreads = Number(values['verify-threads'] ?? 1);
const connections = Number(values.connections ?? 50);
const duration = Number(values.duration ?? 10);

const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
const server = spawn(
  process.execPath,
  [...profile, '--import', 'tsx', new URL('./beckn-server.ts', import.meta.url).pathname],
  {
    env: {
      ...process.env,
      BENCH_JOURNAL: values.journal ?? 'loop',
      BENCH_SIGN_ACKS: values['sign-acks'] ? '1' : '0',
      BENCH_VERIFY_THREADS: String(verifyThreads),
      BENCH_LOOP: loop ? '1' : '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
// A load generator that fails must not leave its server behind.
process.on('exit', () => server.kill('SIGKILL'));
const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
const nextLine = async <T>(): Promise<T> => JSON.parse(((await lines.next()).value as string | undefined) ?? '{}') as T;
const urls = await nextLine<{ bpp: string; registry: string }>();

// --loop: the buyers. Each on_search that passes the BAP's receiver (signature, context, dedupe,
// durable claim) is recorded with the time it arrived.
// They run in both modes: the registry (registry.yaml) subscribes a BAP only once its URL has
// answered the on_subscribe challenge.
const buyerDir = mkdtempSync(join(tmpdir(), 'flexlon-bench-buyer-'));
const arrived = new Map<string, number>();
const sentAt = new Map<string, number>();
const buyers: { close(): Promise<void> }[] = [];
// One registry client per BAP: the one that subscribes answers the registry's on_subscribe challenge.
const registries = new Map<string, HttpRegistry>();
const registryOf = (s: Signer): HttpRegistry => {
  let r = registries.get(s.subscriberId);
  if (!r) {
    r = new HttpRegistry({ url: urls.registry, now: Date.now }, s);
    registries.set(s.subscriberId, r);
  }
  return r;
};
const buyerUrl = async (s: Signer): Promise<string> => {
  const store = await openSqliteStore(join(buyerDir, `${s.subscriberId}.db`));
  const journal = await openSqliteJournal(join(buyerDir, `${s.subscriberId}.db`));
  const app = Fastify({ logger: false });
  useRawJsonBody(app);
  registerOnSubscribe(app, registryOf(s));
  registerReceiver(app, {
    subscriberId: s.subscriberId,
    role: 'BAP',
    resolver: registryKeyResolver(new HttpRegistry({ url: urls.registry, now: Date.now, cacheTtlMs: 300_000 }, s)),
    store,
    journal,
    now: Date.now,
    rateLimit: false,
    onBackgroundError: () => {},
    handlers: {
      on_search: async ({ msg }) => {
        if (!arrived.has(msg.context.message_id)) arrived.set(msg.context.message_id, Date.now());
      },
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  buyers.push({
    close: async () => {
      await app.close();
      await journal.close();
      await store.close();
    },
  });
  return `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
};

const baps: Signer[] = [];
const bapUris = new Map<string, string>();
for (let k = 0; k < 4; k++) {
  const s = signerFromPrivateKey(`bap${k}.bench`, `key-${k}`, generateKeyPair().seedBase64);
  const url = await buyerUrl(s);
  bapUris.set(s.subscriberId, url);
  const now = Date.now();
  await registryOf(s).subscribe({
    subscriber_id: s.subscriberId,
    subscriber_url: url,
    type: 'BAP',
    domain: FLEXLON_DOMAIN,
    unique_key_id: s.uniqueKeyId,
    signing_public_key: s.publicKeyBase64,
    valid_from: new Date(now - 60_000).toISOString(),
    valid_until: new Date(now + 86_400_000).toISOString(),
    status: 'SUBSCRIBED',
  });
  baps.push(s);
}

// Enough distinct signed searches for the whole run at well above the target rate.
const count = Math.max(20_000, duration * 12_000);
const start = Date.now();
const intent = needToIntent({
  kind: 'price-peak',
  windowStart: epochMs(start + 3_600_000),
  windowEnd: epochMs(start + 7_200_000),
  wantedKw: kw(200),
  maxPriceGbpPerMwh: gbpPerMwh(3000),
});
const requests: { body: string; authorization: string; id: string }[] = [];
for (let k = 0; k < count; k++) {
  const s = baps[k % baps.length] as Signer;
  const id = randomUUID();
  const body = JSON.stringify({
    context: buildContext({
      action: 'search',
      bapId: s.subscriberId,
      bapUri: bapUris.get(s.subscriberId) as string,
      messageId: id,
      now: start,
      ttlSeconds,
    }),
    message: { intent },
  });
  const created = Math.floor(start / 1000);
  requests.push({
    body,
    authorization: signBody({
      body,
      subscriberId: s.subscriberId,
      uniqueKeyId: s.uniqueKeyId,
      created,
      expires: created + ttlSeconds,
      sign: (d) => s.sign(d),
    }).header,
    id,
  });
}

let next = 0;
/** The first refusal's status and NACK, so a run that refuses everything says why. */
let firstRefusal: string | undefined;
const cpuBefore = process.cpuUsage();
const result = await autocannon({
  url: urls.bpp,
  connections,
  duration,
  timeout: 10,
  requests: [
    {
      method: 'POST',
      path: '/search',
      setupRequest: (req) => {
        const r = requests[next++ % requests.length] as { body: string; authorization: string; id: string };
        if (loop && !sentAt.has(r.id)) sentAt.set(r.id, Date.now());
        return {
          ...req,
          body: r.body,
          headers: { 'content-type': 'application/json', authorization: r.authorization },
        };
      },
      onResponse: (status: number, body: string) => {
        if (status !== 200 && firstRefusal === undefined) firstRefusal = `${status} ${body.slice(0, 300)}`;
      },
    },
  ],
});

const loadCpu = process.cpuUsage(cpuBefore);
const loopResult = loop ? await measureLoop() : undefined;
if (!loop) await closeBuyers();
server.kill('SIGTERM');
const final = await nextLine<{ auditRows: number; cpuMs: number; batches?: number; error?: string }>();
if (final.error !== undefined || final.auditRows === undefined)
  process.stderr.write(`bench: the server did not report its audit rows: ${final.error ?? 'no answer'}\n`);
const ok = result['2xx'];
process.stdout.write(
  `${JSON.stringify({
    reqPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    // Requests still in flight when autocannon stops are audited by the server but not counted as 2xx.
    errors: result.errors + result.timeouts + result.non2xx,
    requests: ok,
    audited: final.auditRows,
    allAudited: final.auditRows >= ok && final.auditRows <= next,
    distinctBodies: Math.min(next, requests.length),
    journal: values.journal ?? 'loop',
    signedAcks: Boolean(values['sign-acks']),
    verifyThreads,
    // CPU per request of the server (all its threads) and of the load generator: what the machine's
    // cores must supply per request, whatever else is running. 2 cores / their sum = the ceiling here.
    serverCpuUsPerRequest: Math.round((final.cpuMs * 1000) / Math.max(1, final.auditRows)),
    loadGenCpuUsPerRequest: Math.round((loadCpu.user + loadCpu.system) / Math.max(1, next)),
    ...(final.batches ? { meanBatch: Math.round((final.auditRows / final.batches) * 10) / 10 } : {}),
    connections,
    durationS: duration,
    loadavg1m: Math.round((loadavg()[0] as number) * 100) / 100,
    ...(loopResult ? { loop: loopResult } : {}),
    ...(firstRefusal ? { firstRefusal } : {}),
  })}\n`,
);

async function closeBuyers(): Promise<void> {
  for (const b of buyers) await b.close();
  rmSync(buyerDir, { recursive: true, force: true });
}

/**
 * After the load: waits until the BPP owes nothing (every callback sent or given up) or the ttl has
 * passed, then counts. `acked` is the BPP's own count of callbacks owed (one per ACKed search, in the
 * ACK's transaction); `deliveredWithinTtl`: received and verified by the buyer before
 * context.timestamp + ttl; latency: from the request leaving the load generator to its callback
 * arriving at the buyer.
 */
async function measureLoop() {
  const deadline = start + ttlSeconds * 1000;
  const owed = async () => (await (await fetch(`${urls.bpp}/bench/outbox`)).json()) as Record<string, number>;
  let outbox = await owed();
  while ((outbox.pending ?? 0) > 0 && Date.now() <= deadline + 5_000) {
    await new Promise((r) => setTimeout(r, 200));
    outbox = await owed();
  }
  await closeBuyers();
  const latencies: number[] = [];
  let within = 0;
  let first = Infinity;
  let last = 0;
  for (const [id, at] of arrived) {
    const sent = sentAt.get(id);
    if (sent !== undefined) {
      latencies.push(at - sent);
      first = Math.min(first, sent);
    }
    last = Math.max(last, at);
    if (at <= deadline) within++;
  }
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  const acked = outbox.total ?? 0;
  return {
    acked,
    delivered: arrived.size,
    deliveredWithinTtl: within,
    shareWithinTtl: acked === 0 ? 0 : Math.round((within / acked) * 10_000) / 10_000,
    endToEndReqPerSec: Math.round(arrived.size / Math.max(0.001, (last - first) / 1000)),
    e2eP50Ms: pct(0.5),
    e2eP99Ms: pct(0.99),
    stillOwed: outbox.pending ?? 0,
    // Answered 503 FLX_BUSY (admission control) or otherwise not 2xx.
    refused: result.non2xx,
    dead: outbox.dead ?? 0,
    ttlSeconds,
  };
}
