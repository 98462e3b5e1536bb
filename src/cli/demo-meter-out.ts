// `flexlon demo --meter-out DIR` (issue 17): the demo's meters as real-format files, so the day can be
// settled by hand as a counterparty would, with `flexlon settle --meter`. For each simulated site,
// DIR/<site>.csv holds its half-hourly import in the supplier one-row-per-period shape that
// src/formats/meter-csv.ts reads (meter_id, start_utc, kwh): the days of simulated history its BL01
// baseline was made from (each previous day replayed on a plain FIFO scheduler,
// compose/baseline.ts simulatedHistory, with the site's own seed) and the replayed day as its meter
// recorded it. DIR/product.json holds the terms the order settles under (settlement/order.ts
// orderTerms: the product sent in init at the agreed price, or the agreed price paid as delivered).
// The demo prints the `flexlon settle` command that settles the order from those files.
//
// Values are written at full precision (kWh = kW × 0.5 is exact in binary), so with `--baseline bl01`
// the statement reproduces the demo's settlement figure for figure. The simulated history, the replayed
// day and `flexlon settle` all count settlement days (UK local midnight to midnight), so a date in
// British Summer Time reproduces as a GMT one does.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Procurement } from '../agents/grid/split.ts';
import { SIM_HISTORY_DAYS, simulatedHistory } from '../compose/baseline.ts';
import type { Market } from '../compose/market.ts';
import { SIM_SITES } from '../sim/sites.ts';
import type { DemoConfig } from '../config.ts';
import { periodsInDay, settlementDayStart, settlementPeriodOf } from '../domain/settlement-day.ts';
import { epochMs, isoOf } from '../domain/time.ts';
import { FlexError } from '../errors.ts';
import { orderTerms } from '../settlement/order.ts';
import type { ProductTerms } from '../settlement/product.ts';
import { makeDirs } from '../make-dirs.ts';

const PERIOD_MS = 30 * 60_000;

/** The terms as a --product file, as parseSettleTerms reads it (a product's performance rule by name). */
const termsJson = (t: ProductTerms): Record<string, unknown> =>
  'agreedPriceGbp' in t
    ? { code: t.code, name: t.name, baseline: t.baseline, agreedPriceGbp: t.agreedPriceGbp }
    : { ...t, performance: t.performance.name };

/** Writes the files; returns the lines the demo prints about them. */
export const writeMeterFiles = async (m: Market, c: DemoConfig, p: Procurement, dir: string): Promise<string[]> => {
  const out = resolve(dir);
  try {
    makeDirs(out);
  } catch (e) {
    throw new FlexError('FLX_CLI_USAGE', `--meter-out ${dir}: cannot make the folder (${(e as Error).message})`, {
      path: '--meter-out',
    });
  }
  const files: string[] = [];
  for (const [i, site] of m.sites.entries()) {
    const spec = SIM_SITES[i] as (typeof SIM_SITES)[number];
    // The same history compose/agent.ts made for the site's BL01 (its seed is the demo's + i × 7919).
    const history = await simulatedHistory({
      site: site.id,
      profile: c.siteProfile,
      seed: c.seed + i * 7919,
      jobs: c.jobs,
      trainingNodes: spec.trainingNodes,
      gridImportLimitKw: spec.gridImportLimitKw,
      dayStart: m.dayStart,
      days: SIM_HISTORY_DAYS,
    });
    // The replayed day as the site's meter recorded it (the cluster the agent reads its meter from).
    const today = await site.cluster.importKw({
      start: m.dayStart,
      slotMinutes: 30,
      slots: periodsInDay(settlementPeriodOf(m.dayStart).date),
    });
    const rows = ['meter_id,start_utc,kwh'];
    const days = [
      ...history.map((d) => ({ start: settlementDayStart(d.day) as number, kw: d.importKw })),
      { start: m.dayStart as number, kw: today },
    ].sort((a, b) => a.start - b.start);
    for (const d of days)
      d.kw.forEach((kw, k) => {
        // A period the simulation has no reading for is left out: a gap, as a real export shows it.
        if (kw !== null && Number.isFinite(kw))
          rows.push(`${site.id},${isoOf(epochMs(d.start + k * PERIOD_MS))},${kw * 0.5}`);
      });
    const file = join(out, `${site.id}.csv`);
    writeFileSync(file, `${rows.join('\n')}\n`);
    files.push(file);
  }
  const store = m.providers.find((x) => x.id === p.bpp.subscriber_id)?.store ?? m.stores.flex;
  const order = await store.getOrder(p.orderId);
  if (!order) return [`meter files   ${files.join(', ')} (the order ${p.orderId} was not found to write its terms)`];
  const slots = Math.round((order.windowEnd - order.windowStart) / PERIOD_MS);
  const terms = orderTerms(order.product, order.reductionKw, 0.5, order.priceGbp, slots);
  const product = join(out, 'product.json');
  writeFileSync(product, `${JSON.stringify(termsJson(terms), null, 2)}\n`);
  const sites = (await store.listCommitments()).filter((x) => x.orderId === order.id).map((x) => x.site);
  const lines = [
    `meter files   ${files.length} site meter file(s) in ${out} (${SIM_HISTORY_DAYS} days of history and the day, one row per half hour, kWh), the order's terms in product.json`,
  ];
  if (sites.length === 1)
    lines.push(
      `settle it     npx flexlon settle --meter ${join(out, `${sites[0]}.csv`)} --baseline bl01 --event ${isoOf(order.windowStart)}/${isoOf(order.windowEnd)} --product ${product} --accepted-kw ${order.reductionKw}`,
      `export it     npx flexlon audit export ${m.runDir} --transaction ${order.transactionId} --out FILE; npx flexlon audit verify --export FILE`,
    );
  else lines.push(`              the order is split across ${sites.join(', ')}: settle each site's part from its file`);
  // The files are the meters whatever the demo settled on; only BL01 on them is what the provider applied.
  if (c.baseline !== 'bl01')
    lines.push(
      `              this demo settled on the FIFO twin (--baseline ${c.baseline}); BL01 on these files is another baseline, so its figures differ`,
    );
  return lines;
};
