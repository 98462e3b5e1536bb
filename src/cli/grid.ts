// `flexlon grid need`: one procurement against a running Beckn network, as a DSO flexibility desk
// would start it by hand (issue 16) — "I need 150 kW from 17:00 to 18:00 at ≤ 600 £/MWh, under
// this product". It runs a buyer (the Grid Orchestrator) for the one need: it subscribes to the
// network's registry, searches through the gateway, buys across providers as the need requires
// (agents/grid/split.ts), prints each part, each provider that failed and why, and stops. Times are
// printed in UTC with the GB settlement day and period and UK local time.
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DEFAULT_NEED_POLICY } from '../agents/grid/need-detection.ts';
import { composeBap, freePort } from '../compose/index.ts';
import { defaultDataDir, expandHome } from '../config.ts';
import type { FlexNeed } from '../domain/offers.ts';
import { londonOffsetMs, PERIOD_MS, settlementPeriodOf } from '../domain/settlement-day.ts';
import { epochMs, isoOf } from '../domain/time.ts';
import { gbpPerMwh, kw } from '../domain/units.ts';
import { FlexError } from '../errors.ts';
import { readJsonFile } from '../formats/json.ts';
import { parseProduct } from '../settlement/product.ts';
import { parseFlags, type Command, type Output } from './command.ts';
import { eventsCommand } from './events.ts';

const USAGE = `Usage: flexlon grid need --registry URL --from TIME --to TIME --kw KW --max-price GBP_PER_MWH
                      [--product FILE.json] [--id ID] [--data-dir DIR] [--wait-ms MS]
       flexlon grid events FILE.json --url URL --token-file FILE

need: one procurement against a running network. A buyer with its own key (made on first use in
DATA/keys) subscribes to the registry at URL, searches every provider of the domain through the
gateway, and buys what the need asks for, across providers when one is not enough; it prints each
commitment, each provider that failed and why, and stops. TIME is UTC with a zone on a half hour, in
the network's market time (a demo network replays its day). The product (JSON, docs/settlement.md)
travels in init and is settled on; an import-limit product makes this an import-limit need.

events: loads OpenADR-style programs and events into a running buyer (flexlon events post).

Options:
  --registry URL      the network's registry
  --from, --to TIME   the window, e.g. 2023-01-24T17:00Z
  --kw KW             the reduction wanted
  --max-price P       the most paid per MWh delivered (£)
  --product FILE      the product's terms
  --id ID             this buyer's subscriber id (default grid-desk.flexlon.local)
  --data-dir DIR      where its key and store live (default ~/.flexlon)
  --wait-ms MS        how long to collect offers (default 10000)`;

const usage = (why: string, path?: string) =>
  new FlexError('FLX_CLI_USAGE', `${why}\n\n${USAGE}`, path ? { path } : undefined);

const HOST = '127.0.0.1';

/** `17:00 UTC (SP35 of 2023-01-24, 17:00 GMT)`. */
export const when = (t: number): string => {
  const sp = settlementPeriodOf(t);
  const off = londonOffsetMs(t);
  return `${isoOf(t).slice(0, 16).replace('T', ' ')} UTC (SP${sp.period} of ${sp.date}, ${isoOf(t + off).slice(11, 16)} ${off ? 'BST' : 'GMT'})`;
};

/**
 * The end of a window: `03:00 UTC (end of SP6 of 2023-12-08, 03:00 GMT)`. The instant starts the next
 * period, which a window ending there does not hold (a new user read "to 03:00 UTC (SP7 …)").
 */
export const whenEnd = (t: number): string => {
  const sp = settlementPeriodOf(t - 1);
  const off = londonOffsetMs(t);
  return `${isoOf(t).slice(0, 16).replace('T', ' ')} UTC (end of SP${sp.period} of ${sp.date}, ${isoOf(t + off).slice(11, 16)} ${off ? 'BST' : 'GMT'})`;
};

const time = (flag: string, v: string | undefined): number => {
  if (v === undefined) throw usage(`${flag} is needed`, flag);
  const t = Date.parse(v);
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(v) || !Number.isFinite(t))
    throw usage(`${flag} "${v}": a UTC time with a zone, e.g. 2023-01-24T17:00Z`, flag);
  if (t % PERIOD_MS !== 0) throw usage(`${flag} "${v}": settlement periods start on the half hour`, flag);
  return t;
};

const positive = (flag: string, v: string | undefined, max: number): number => {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || !(n > 0) || n > max)
    throw usage(`${flag} "${v ?? ''}": a number above 0, at most ${max}`, flag);
  return n;
};

const need = async (argv: readonly string[], io: Output): Promise<number> => {
  const { values } = parseFlags(
    argv,
    {
      registry: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      kw: { type: 'string' },
      'max-price': { type: 'string' },
      product: { type: 'string' },
      id: { type: 'string' },
      'data-dir': { type: 'string' },
      'wait-ms': { type: 'string' },
    },
    USAGE,
  );
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.registry === undefined || !/^https?:\/\/[^/?#]+\/?$/.test(values.registry))
    throw usage(`--registry "${values.registry ?? ''}": the registry's http(s) URL`, '--registry');
  const from = time('--from', values.from);
  const to = time('--to', values.to);
  if (!(to > from)) throw usage('--to must be after --from', '--to');
  const wantedKw = positive('--kw', values.kw, 1_000_000);
  const maxPrice = positive('--max-price', values['max-price'], 1_000_000);
  const waitMs = values['wait-ms'] === undefined ? 10_000 : positive('--wait-ms', values['wait-ms'], 120_000);
  const product = values.product ? parseProduct(readJsonFile(values.product), values.product) : undefined;
  const limit = product?.measurement === 'import-limit' ? product.importLimitKw : undefined;
  const n: FlexNeed = {
    kind: limit === undefined ? 'price-peak' : 'import-limit',
    windowStart: epochMs(from),
    windowEnd: epochMs(to),
    wantedKw: kw(wantedKw),
    maxPriceGbpPerMwh: gbpPerMwh(maxPrice),
    ...(limit === undefined ? {} : { importLimitKw: kw(limit) }),
    ...(product ? { product } : {}),
  };
  const dataDir = values['data-dir'] ? expandHome(values['data-dir']) : defaultDataDir();
  const id = values.id ?? 'grid-desk.flexlon.local';
  const port = await freePort();
  const bap = await composeBap(
    {
      id,
      listen: { host: HOST, port, publicUrl: `http://${HOST}:${port}` },
      store: { kind: 'sqlite', file: join(dataDir, 'grid-desk', `${id}.db`) },
      logLevel: 'silent',
      keys: { dir: join(dataDir, 'keys'), generate: true },
      registry: { url: values.registry.replace(/\/$/, ''), subscribe: true },
      clock: { kind: 'system' },
      signals: { kind: 'shipped' },
      region: 'GB',
      slotMinutes: 30,
      policy: DEFAULT_NEED_POLICY,
      collectMs: waitMs,
      callbackTimeoutMs: 10_000,
    },
    { drive: 'external' },
  );
  try {
    io.out(
      `need: ${wantedKw} kW from ${when(from)} to ${whenEnd(to)}, at most ${maxPrice} £/MWh${product ? `, product ${product.code} (${product.measurement}${limit === undefined ? '' : ` at or below ${limit} kW`})` : ''}`,
    );
    const got = await bap.bap.procure(n, randomUUID());
    if ('none' in got) {
      io.out(`no flexibility bought: ${got.none}`);
      return 1;
    }
    const parts = [got, ...(got.more ?? [])];
    const bought = parts.reduce((a, p) => a + p.selectedKw, 0);
    io.out(
      `bought ${bought.toFixed(1)} kW of ${wantedKw} kW from ${parts.length} provider(s); ${got.offersSeen} offer(s) seen; transaction ${got.transactionId}`,
    );
    for (const p of parts)
      io.out(
        `  ${p.bpp.subscriber_id}: ${p.selectedKw.toFixed(1)} kW at ${p.offer.site} ${when(p.offer.windowStart)}–${isoOf(p.offer.windowEnd).slice(11, 16)} UTC, £${p.quotedGbp.toFixed(2)}, order ${p.orderId}, baseline ${p.baselineMethod}`,
      );
    for (const f of got.failures ?? []) io.out(`  ${f.bppId}: did not sell (${f.code}: ${f.message})`);
    if (bought < wantedKw - 0.05 && limit === undefined)
      io.out(`short by ${(wantedKw - bought).toFixed(1)} kW: no other provider offered at or below ${maxPrice} £/MWh`);
    return 0;
  } finally {
    await bap.stop();
  }
};

export const gridCommand: Command = {
  name: 'grid',
  summary: 'the grid side by hand: procure one need against a running network; load grid events',
  usage: USAGE,
  async run(argv, io, signal) {
    const [sub, ...rest] = argv;
    if (sub === 'need') return need(rest, io);
    if (sub === 'events') return eventsCommand.run(['post', ...rest], io, signal);
    throw usage(`unknown grid command "${sub ?? ''}"`);
  },
};
