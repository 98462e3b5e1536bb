// `npm run bench:beckn`: loads the BPP pipeline (verify + validate + dedupe + durable audit append +
// ACK) with autocannon over loopback and prints one JSON line
//   {reqPerSec, p50Ms, p99Ms, errors, requests, audited, allAudited, …}.
// The server runs in its own process (bench/beckn-server.ts). Every request is a distinct search,
// signed by one of four registered BAPs before the run (so the load generator spends no CPU on
// signing during it), with a distinct message_id: nothing is short-circuited as a duplicate.
// Options: --connections N (50) --duration S (10) --verify-threads N (1; 0 = on the event loop)
//          --journal loop|store (loop: group commit on the event loop, default; store: one commit per
//          claim and per row) --sign-acks
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
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
  },
});
const verifyThreads = Number(values['verify-threads'] ?? 1);
const connections = Number(values.connections ?? 50);
const duration = Number(values.duration ?? 10);
const BAP_URI = 'http://127.0.0.1:9/beckn';

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
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const lines = createInterface({ input: server.stdout })[Symbol.asyncIterator]();
const nextLine = async <T>(): Promise<T> => JSON.parse(((await lines.next()).value as string | undefined) ?? '{}') as T;
const urls = await nextLine<{ bpp: string; registry: string }>();

const baps: Signer[] = [];
for (let k = 0; k < 4; k++) {
  const s = signerFromPrivateKey(`bap${k}.bench`, `key-${k}`, generateKeyPair().seedBase64);
  const now = Date.now();
  await new HttpRegistry({ url: urls.registry, now: Date.now }, s).subscribe({
    subscriber_id: s.subscriberId,
    subscriber_url: BAP_URI,
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
const requests: { body: string; authorization: string }[] = [];
for (let k = 0; k < count; k++) {
  const s = baps[k % baps.length] as Signer;
  const body = JSON.stringify({
    context: buildContext({
      action: 'search',
      bapId: s.subscriberId,
      bapUri: BAP_URI,
      messageId: randomUUID(),
      now: start,
      ttlSeconds: 600,
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
      expires: created + 600,
      sign: (d) => s.sign(d),
    }).header,
  });
}

let next = 0;
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
        const r = requests[next++ % requests.length] as { body: string; authorization: string };
        return {
          ...req,
          body: r.body,
          headers: { 'content-type': 'application/json', authorization: r.authorization },
        };
      },
    },
  ],
});

const loadCpu = process.cpuUsage(cpuBefore);
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
  })}\n`,
);
