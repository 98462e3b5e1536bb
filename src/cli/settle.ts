// `flexlon settle`: one flexibility event settled from a real meter file, by a published baseline
// and a product's terms — per period baseline, metered, delivered and payment — as a table, JSON,
// CSV, or an HTML statement a counterparty can open offline (issue 17). Everything it uses is in its
// output: the meter file's gaps and duplicates, the baseline method with its days, the product's rules.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FlexError } from '../errors.ts';
import { londonOffsetMs, PERIOD_MS, periodStart, settlementPeriodOf } from '../domain/settlement-day.ts';
import { isoOf } from '../domain/time.ts';
import { readJsonFile } from '../formats/json.ts';
import { meterDays, parseMeterCsv, type MeterSeries, type MeterUnit } from '../formats/meter-csv.ts';
import { parsePrometheusRange, type PowerUnit } from '../formats/prometheus-range.ts';
import { prometheusMeter } from './settle-prometheus.ts';
import { eventBaseline, type SettlementWindow } from '../settlement/meter-baselines.ts';
import { factorText, parseSettleTerms, settleProduct, type BaselineName } from '../settlement/product.ts';
import { parseFlags, type Command, type Output } from './command.ts';
import { databasesIn, postgresStores } from './audit.ts';
import { statementHtml, type SettleReport } from './settle-html.ts';
import { orderLines, settleFromStores, type StoreRef } from './settle-order.ts';
import { openStore } from '../compose/index.ts';
import { openSqliteStore } from '../compose/tools.ts';

const USAGE = `Usage: flexlon settle --meter FILE.csv|FILE.json --event FROM/TO --product FILE.json --accepted-kw KW
                      [--baseline bl01|dfs|ena|nominated] [--nominated FILE.json] [--event-days D,...]
                      [--unit kWh|kW] [--format table|json|csv|html] [--out FILE]
       flexlon settle --meter-prometheus URL --query Q [--step S] [--history-days N] --event ... (as above)
       flexlon settle --order ID PATH... [--format ...] [--out FILE]
       flexlon settle --order ID --postgres URL [--schema NAME]... [--password-file FILE] [--format ...]

Settles one flexibility event from a half-hourly meter file: the baseline of each settlement period
by a published method, the metered import, the delivered energy and the payment under the product's
terms. The meter file is CSV, one row per period (a UTC start or settlement_date + settlement_period,
and kwh or kw) or one row per settlement day (date, then a column per period; 46 or 50 on clock-change
days); gaps and duplicates are reported, never filled. A Prometheus range answer (saved, or read
live with --meter-prometheus) is one series of import power: a period's kW is the mean of its samples
at each step, and only when every sample is there; a period missing one is a gap. FROM/TO are times with their zone (Z, or an offset such as +01:00) on half-hour
boundaries, within one settlement day. The product (JSON) names its measurement (reduction or
import-limit), baseline, prices and performance rule (docs/settlement.md); for an order bought with
no product, {"agreedPriceGbp": £} is its price paid as delivered.

With --order, the order is settled again from a store, as \`flexlon audit verify\` finds stores (a .db
file, a run folder <data-dir>/runs/<run>, or the schemas of a PostgreSQL database): from the
provider's store (its order, commitments and meter readings) or, failing that, the buyer's (what it
bought and the readings the provider reported), under the terms recorded with the order; the
statement says whether it agrees with the settlement recorded in that store's audit log (exit 1 if not).

Options:
  --meter FILE          the meter export (one metering point): CSV, or .json holding a saved answer
                        of Prometheus /api/v1/query_range (one series of import power)
  --meter-prometheus URL  read the meter from a Prometheus server instead (with --query)
  --query Q             the PromQL giving the site's import power (one series: W or kW)
  --step S              the range query's step in seconds, dividing 1800 (default 60)
  --history-days N      days of history before the event day to query (default 28)
  --order ID            settle a stored order instead (with PATH... or --postgres)
  --postgres URL        a postgresql:// connection string (no password in it: use --password-file)
  --schema NAME         a schema to look in (repeat for several; default: every FlexLon schema)
  --password-file FILE  the database password, first line of FILE
  --event FROM/TO       the window, e.g. 2023-01-24T17:00Z/2023-01-24T19:00Z
  --product FILE        the product's terms (JSON)
  --accepted-kw KW      the reduction the buyer accepted (kW)
  --baseline NAME       overrides the product's baseline: bl01, dfs, ena or nominated
  --nominated FILE      the provider's nominated baseline: a JSON list of kW, one per period of the window
  --event-days D,...    earlier days the site delivered flexibility (left out of the baseline history)
  --unit U              the meter values' unit when the file does not say it: kWh or kW for CSV,
                        W or kW for Prometheus (else the metric's _watts/_kilowatts name)
  --format F            table (default), json, csv or html
  --out FILE            write there instead of standard output
  -h, --help            this help`;

const usage = (why: string, path?: string) =>
  new FlexError('FLX_CLI_USAGE', `${why}\n\n${USAGE}`, path ? { path } : undefined);

/** The window as settlement periods of one settlement day. */
export const windowOf = (text: string): SettlementWindow => {
  const [a, b, extra] = text.split('/');
  const zoned = (t: string | undefined) => t !== undefined && /(Z|[+-]\d\d:?\d\d)$/.test(t.trim());
  if (extra !== undefined || !zoned(a) || !zoned(b))
    throw usage(
      `--event "${text}": give FROM/TO as times with their zone (Z for UTC, or an offset such as +01:00), e.g. 2023-01-24T17:00Z/2023-01-24T19:00Z`,
      '--event',
    );
  const from = Date.parse(a as string);
  const to = Date.parse(b as string);
  if (!Number.isFinite(from) || !Number.isFinite(to) || !(to > from))
    throw usage(`--event "${text}": FROM and TO must be times, TO after FROM`, '--event');
  if (from % PERIOD_MS !== 0 || to % PERIOD_MS !== 0)
    throw usage(`--event "${text}": settlement periods start on the half hour`, '--event');
  const first = settlementPeriodOf(from);
  const last = settlementPeriodOf(to - PERIOD_MS);
  if (first.date !== last.date)
    throw usage(
      `--event "${text}": the window spans settlement days ${first.date} and ${last.date}; settle each day apart`,
      '--event',
    );
  return { date: first.date, fromPeriod: first.period, toPeriod: last.period + 1 };
};

/** The end of --event (already checked by windowOf). */
const windowEnd = (text: string): number => Date.parse(text.split('/')[1] as string);

const readText = (file: string, what: string): string => {
  try {
    return readFileSync(resolve(file), 'utf8');
  } catch (e) {
    throw usage(`${what} ${file}: cannot read it (${(e as Error).message})`);
  }
};

/** Reads --meter: a CSV export (meter-csv.ts), or a .json file holding a saved Prometheus query_range answer. */
export const readMeterFile = (file: string, unit: string | undefined): MeterSeries => {
  if (!file.toLowerCase().endsWith('.json'))
    return parseMeterCsv(readText(file, '--meter'), file, unit ? { unit: unit as MeterUnit } : {});
  if (unit !== undefined && unit !== 'W' && unit !== 'kW')
    throw usage(`--unit "${unit}": a Prometheus series is power, W or kW`, '--unit');
  return parsePrometheusRange(readJsonFile(file), file, unit ? { unit: unit as PowerUnit } : {});
};

export const settleFromFiles = (o: {
  /** A meter file, or a series already read (--meter-prometheus). */
  meter: string | MeterSeries;
  event: string;
  product: string;
  acceptedKw: number;
  baseline?: BaselineName;
  nominated?: string;
  eventDays?: readonly string[];
  unit?: string;
}): SettleReport => {
  const series = typeof o.meter === 'string' ? readMeterFile(o.meter, o.unit) : o.meter;
  const product = parseSettleTerms(readJsonFile(o.product), o.product);
  const w = windowOf(o.event);
  const name = o.baseline ?? product.baseline;
  const starts = Array.from({ length: w.toPeriod - w.fromPeriod }, (_, i) => periodStart(w.date, w.fromPeriod + i));
  const missing = starts.filter((t) => !series.kw.has(t));
  if (missing.length > 0)
    throw new FlexError(
      'FLX_DATA_INVALID',
      `${series.file}: no reading for ${missing.map((t) => `${w.date} SP${settlementPeriodOf(t).period} (${isoOf(t)})`).join(', ')} in the window: settlement needs every period metered (nothing is estimated)`,
    );
  const nominatedKw = o.nominated ? (readJsonFile(o.nominated) as number[]) : undefined;
  const baseline = eventBaseline(name, meterDays(series), w, {
    ...(o.eventDays ? { eventDays: o.eventDays } : {}),
    ...(nominatedKw ? { nominatedKw } : {}),
    ...(product.battery ? { battery: true } : {}),
  });
  const periods = starts.map((t, i) => {
    const sp = settlementPeriodOf(t);
    return {
      start: t,
      settlementDate: sp.date,
      settlementPeriod: sp.period,
      baselineKw: Math.round((baseline.baselineKw[i] as number) * 1000) / 1000,
      meteredKw: series.kw.get(t) as number,
    };
  });
  return {
    version: 1,
    meter: {
      file: series.file,
      meterId: series.meterId,
      shape: series.shape,
      unit: series.unit,
      from: isoOf(series.from),
      to: isoOf(series.to),
      gaps: series.gaps,
      duplicates: series.duplicates,
    },
    window: {
      ...w,
      startUtc: isoOf(starts[0] as number),
      endUtc: isoOf((starts[starts.length - 1] as number) + PERIOD_MS),
    },
    baseline: { name, ...baseline },
    settlement: settleProduct(product, periods, o.acceptedKw),
  };
};

const hhmm = (t: number) => isoOf(t).slice(11, 16);
const local = (t: number) => `${hhmm(t + londonOffsetMs(t))} ${londonOffsetMs(t) ? 'BST' : 'GMT'}`;
const f = (x: number, d = 1) => x.toFixed(d);

export const tableLines = (r: SettleReport): string[] => {
  const s = r.settlement;
  const p = s.product;
  const limit = p.measurement === 'import-limit';
  return [
    ...orderLines(r),
    r.order
      ? `meter      ${r.meter.meterId ?? '(no id)'}: the readings ${r.order.role === 'provider' ? 'saved in the store' : 'the provider reported in on_status'}; ${r.meter.gaps.length} periods of the window missing`
      : `meter      ${r.meter.meterId ?? '(no id)'} from ${r.meter.file} (${r.meter.shape}, ${r.meter.unit}), ${r.meter.from} to ${r.meter.to}; ${r.meter.gaps.length} periods missing, ${r.meter.duplicates.length} duplicated`,
    `product    ${p.name} (${p.code}): ${p.measurement}${limit ? ` at or below ${p.importLimitKw} kW` : ''}, accepted ${f(s.acceptedKw)} kW over ${s.windowHours} h`,
    `baseline   ${r.baseline.name}: ${r.baseline.method}`,
    `           days used: ${r.baseline.selectedDays.join(', ') || '—'}${r.baseline.adjustmentKw ? `; adjustment ${f(r.baseline.adjustmentKw)} kW` : ''}`,
    `periods    ${r.window.date}, UTC (UK local); delivered = (baseline − metered) × 0.5 h`,
    ...s.periods.map(
      (x) =>
        `  SP${String(x.settlementPeriod).padStart(2, '0')} ${hhmm(x.start)} UTC (${local(x.start)})  baseline ${f(x.baselineKw).padStart(7)} kW  metered ${f(x.meteredKw).padStart(7)} kW  ` +
        (limit
          ? `import ${x.complies ? '≤' : '>'} limit ${p.importLimitKw} kW${x.complies ? '' : ` by ${f((x.exceedanceKwh ?? 0) / 0.5)} kW`}; reduction ${f(x.deliveredKwh)} kWh (paid on ${f(x.countedKwh)})`
          : `delivered ${f(x.deliveredKwh).padStart(6)} kWh of ${f(x.acceptedKwh)} accepted (paid on ${f(x.countedKwh)})`) +
        `  £${f(x.utilisationGbp, 2)}`,
    ),
    limit
      ? `total      import within the limit for ${(s.deliveredShare * 100).toFixed(1)} % of the window's allowance; performance factor ${factorText(s.performanceFactor)}`
      : `total      delivered ${f(s.deliveredKwh)} kWh of ${f(s.acceptedKwh)} kWh accepted (${(s.deliveredShare * 100).toFixed(1)} % paid on, at most 100 %); performance factor ${factorText(s.performanceFactor)}`,
    `payment    £${f(s.paymentGbp, 2)} = (availability £${f(s.availabilityGbp, 2)} + utilisation £${f(s.utilisationGbp, 2)}) × ${factorText(s.performanceFactor)}`,
    ...s.rules.map((x, i) => `${i === 0 ? 'rules' : '     '}      ${x}`),
  ];
};

/** kW and kWh to the watt(-hour), as the statement gives the baseline (a meter's mean printed 14 decimals). */
const milli = (x: number): number => Math.round(x * 1000) / 1000;

export const csvText = (r: SettleReport): string =>
  [
    'settlement_date,settlement_period,start_utc,baseline_kw,metered_kw,delivered_kwh,accepted_kwh,counted_kwh,exceedance_kwh,utilisation_gbp',
    ...r.settlement.periods.map((x) =>
      [
        x.settlementDate,
        x.settlementPeriod,
        isoOf(x.start),
        milli(x.baselineKw),
        milli(x.meteredKw),
        milli(x.deliveredKwh),
        milli(x.acceptedKwh),
        milli(x.countedKwh),
        x.exceedanceKwh === undefined ? '' : milli(x.exceedanceKwh),
        x.utilisationGbp.toFixed(2),
      ].join(','),
    ),
  ].join('\n') + '\n';

export const settleCommand: Command = {
  name: 'settle',
  summary: 'settle one event from a meter file: a published baseline, a product’s terms, a statement',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseFlags(
      argv,
      {
        order: { type: 'string' },
        postgres: { type: 'string' },
        schema: { type: 'string', multiple: true },
        'password-file': { type: 'string' },
        meter: { type: 'string' },
        'meter-prometheus': { type: 'string' },
        query: { type: 'string' },
        step: { type: 'string' },
        'history-days': { type: 'string' },
        event: { type: 'string' },
        product: { type: 'string' },
        'accepted-kw': { type: 'string' },
        baseline: { type: 'string' },
        nominated: { type: 'string' },
        'event-days': { type: 'string' },
        unit: { type: 'string' },
        format: { type: 'string' },
        out: { type: 'string' },
      },
      USAGE,
      true,
    );
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const format = values.format ?? 'table';
    if (!['table', 'json', 'csv', 'html'].includes(format))
      throw usage(`--format "${format}": table, json, csv or html`, '--format');
    if (values.order !== undefined) {
      const clash = (
        [
          'meter',
          'meter-prometheus',
          'event',
          'product',
          'accepted-kw',
          'baseline',
          'nominated',
          'event-days',
          'unit',
        ] as const
      ).find((k) => values[k] !== undefined);
      if (clash)
        throw usage(`--${clash} does not go with --order: the order's own terms and readings are used`, `--${clash}`);
      const report = await settleFromStores(await storesOf(positionals, values), values.order);
      write(report, format, values.out, io);
      return (report.order?.differences.length ?? 0) === 0 ? 0 : 1;
    }
    if (positionals.length > 0)
      throw usage(
        `unexpected "${positionals[0]}": a run folder or store is read with --order only${/^\d{1,2}:\d{2}/.test(positionals[0] ?? '') ? '; if it is part of --event, write the event without spaces (FROM/TO)' : ''}`,
      );
    if (values.postgres !== undefined) throw usage('--postgres goes with --order', '--postgres');
    const fromPrometheus = values['meter-prometheus'] !== undefined;
    if (fromPrometheus === (values.meter !== undefined))
      throw usage('give the meter as --meter FILE or --meter-prometheus URL --query Q (one of them)', '--meter');
    if (fromPrometheus !== (values.query !== undefined))
      throw usage('--query goes with --meter-prometheus (the PromQL giving the site import power)', '--query');
    for (const k of ['event', 'product', 'accepted-kw'] as const)
      if (values[k] === undefined) throw usage(`--${k} is needed`, `--${k}`);
    const acceptedKw = Number(values['accepted-kw']);
    if (!(acceptedKw > 0) || !Number.isFinite(acceptedKw))
      throw usage(`--accepted-kw "${values['accepted-kw']}": a reduction in kW, above 0`, '--accepted-kw');
    const baseline = values.baseline;
    if (baseline !== undefined && !['bl01', 'dfs', 'ena', 'nominated'].includes(baseline))
      throw usage(`--baseline "${baseline}": one of bl01, dfs, ena, nominated`, '--baseline');
    if (baseline === 'nominated' && values.nominated === undefined)
      throw usage(
        "--baseline nominated needs --nominated FILE.json: the provider's kW, one per period of the window",
        '--nominated',
      );
    const csv = values.meter !== undefined && !values.meter.toLowerCase().endsWith('.json');
    if (csv && values.unit !== undefined && values.unit !== 'kWh' && values.unit !== 'kW')
      throw usage(`--unit "${values.unit}": kWh or kW`, '--unit');
    if (fromPrometheus && values.unit !== undefined && values.unit !== 'W' && values.unit !== 'kW')
      throw usage(`--unit "${values.unit}": a Prometheus series is power, W or kW`, '--unit');
    const count = (flag: string, text: string | undefined, fallback: number): number => {
      const n = text === undefined ? fallback : Number(text);
      if (!Number.isInteger(n) || n <= 0) throw usage(`--${flag} "${text}": a whole number above 0`, `--${flag}`);
      return n;
    };
    const meter = fromPrometheus
      ? await prometheusMeter(
          {
            url: values['meter-prometheus'] as string,
            query: values.query as string,
            stepSeconds: count('step', values.step, 60),
            historyDays: count('history-days', values['history-days'], 28),
            ...(values.unit ? { unit: values.unit as PowerUnit } : {}),
          },
          windowOf(values.event as string).date,
          windowEnd(values.event as string),
        )
      : (values.meter as string);
    const report = settleFromFiles({
      meter,
      event: values.event as string,
      product: values.product as string,
      acceptedKw,
      ...(baseline ? { baseline: baseline as BaselineName } : {}),
      ...(values.nominated ? { nominated: values.nominated } : {}),
      ...(values['event-days'] ? { eventDays: values['event-days'].split(',').map((d) => d.trim()) } : {}),
      ...(values.unit && !fromPrometheus ? { unit: values.unit } : {}),
    });
    write(report, format, values.out, io);
    return 0;
  },
};

/** The statement in its format, to --out or standard output. */
const write = (report: SettleReport, format: string, out: string | undefined, io: Output): void => {
  const text =
    format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : format === 'csv'
        ? csvText(report)
        : format === 'html'
          ? statementHtml(report, tableLines(report))
          : `${tableLines(report).join('\n')}\n`;
  if (out) {
    writeFileSync(resolve(out), text);
    io.out(`settlement statement (${format}) written to ${out}: payment £${report.settlement.paymentGbp.toFixed(2)}`);
  } else io.out(text.replace(/\n$/, ''));
};

/** The stores --order looks in: PATH... (.db files or folders) or the schemas of --postgres. */
const storesOf = async (
  paths: readonly string[],
  v: { postgres?: string | undefined; schema?: string[] | undefined; 'password-file'?: string | undefined },
): Promise<StoreRef[]> => {
  if (v.postgres !== undefined) {
    if (paths.length > 0) throw usage('give .db paths or --postgres, not both', 'PATH');
    const { schemas, config } = await postgresStores(v.postgres, v.schema ?? [], v['password-file']);
    return schemas.map((s) => ({ name: `schema ${s}`, open: () => openStore(config(s), 'flexlon-settle') }));
  }
  if (v.schema !== undefined || v['password-file'] !== undefined)
    throw usage('--schema and --password-file go with --postgres');
  if (paths.length === 0)
    throw usage('--order needs the stores to read: PATH... (.db files or a run folder) or --postgres URL', 'PATH');
  return paths.flatMap(databasesIn).map((f) => ({ name: f, open: () => openSqliteStore(f) }));
};
