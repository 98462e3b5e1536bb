// `flexlon signals …`: look at, import, fetch and calibrate grid signals (docs/signals.md).
import { calibrate } from '../domain/calibration.ts';
import { CALIBRATION_2023, type ErrorFit } from '../domain/forecast-vintage.ts';
import { isNational, regionLabel } from '../domain/regions.ts';
import { SignalHistory } from '../domain/signal-history.ts';
import { gridEnd } from '../domain/time.ts';
import { FlexError } from '../errors.ts';
import { liveClients, recordedSource } from '../compose/signals.ts';
import { parseFlags, type Command, type Output } from './command.ts';
import { periodRange, regionArg, signalChoice, SOURCE_FLAGS, SOURCE_HELP } from './signals-args.ts';
import { IMPORT_USAGE, runImport } from './signals-import.ts';
import { runShow, SHOW_USAGE } from './signals-show.ts';

const FETCH_USAGE = `Usage: flexlon signals fetch --from DAY|TIME [--to DAY|TIME] [--region ID|NAME] [--system-prices]

Fetches NESO carbon intensity (national or --region) and Elexon MID prices for the period from the
live APIs into the disk cache (14-day NESO and 7-day Elexon requests, retried, 429 Retry-After
honoured), so that later runs — and --offline <cache dir> — work without the network.
${SOURCE_HELP}`;

const CALIBRATE_USAGE = `Usage: flexlon signals calibrate [--from DAY] [--to DAY] [--json]

Measures, from recorded data (default: the shipped data, 2023), the forecast errors the synthetic
forecast vintages are calibrated to: NESO stored forecast − actual carbon intensity, and a causal
day-ahead price forecast (mean of the same half hour on the seven previous days) − MID outturn.
${SOURCE_HELP}`;

const USAGE = `Usage: flexlon signals <show|import|fetch|calibrate> [options]

  show        print the grid signals for a period (table or --json)
  import      turn a saved NESO / Elexon response or a CSV into FlexLon's normalised CSV
  fetch       fill the disk cache from the live NESO and Elexon APIs
  calibrate   measure the forecast errors behind the forecast vintages

${SHOW_USAGE}

${IMPORT_USAGE}

${FETCH_USAGE}

${CALIBRATE_USAGE}`;

const runFetch = async (argv: readonly string[], io: Output): Promise<number> => {
  const { values } = parseFlags(
    argv,
    {
      ...SOURCE_FLAGS,
      from: { type: 'string' },
      to: { type: 'string' },
      region: { type: 'string' },
      'system-prices': { type: 'boolean' },
    },
    FETCH_USAGE,
  );
  const choice = signalChoice({ ...values, live: true });
  if (choice.kind !== 'live')
    throw new FlexError('FLX_CLI_USAGE', 'fetch reads the live APIs: --data and --offline do not apply');
  const grid = periodRange(values.from, values.to, 400);
  const region = regionArg(values.region);
  const { neso, elexon } = liveClients({
    ...choice,
    fetcher: {
      onRetry: (r) => io.err(`retry ${r.attempt} in ${Math.round(r.waitMs / 1000)} s: ${r.reason} (${r.url})`),
    },
  });
  const h = new SignalHistory();
  const end = gridEnd(grid);
  const got = [...(await neso.load(h, region.id, grid.start, end))];
  if (isNational(region) || values['system-prices'])
    got.push(...(await elexon.loadMid(h, grid.start, Math.min(end, Date.now()))));
  if (values['system-prices']) got.push(...(await elexon.loadSystemPrices(h, grid.start, Math.min(end, Date.now()))));
  for (const f of got)
    io.out(`${f.fromCache ? 'cached ' : f.stale ? 'STALE  ' : 'fetched'} ${f.url}${f.file ? ` → ${f.file}` : ''}`);
  io.out(
    `${regionLabel(region)}: ${h.periodStarts(region.id).length} half hours of carbon intensity; ${h.faults.length} fault(s) noted; cache ${choice.cacheDir}`,
  );
  return 0;
};

const fit = (name: string, f: ErrorFit, unit: string): string =>
  `  ${name.padEnd(47)} n ${String(f.n).padStart(6)}  MAE ${f.mae.toFixed(2).padStart(6)}  RMSE ${f.rmse.toFixed(2).padStart(6)}  bias ${f.bias.toFixed(2).padStart(6)}  lag-1 r ${f.phi.toFixed(3)}  ${unit}`;

const runCalibrate = async (argv: readonly string[], io: Output): Promise<number> => {
  const { values } = parseFlags(
    argv,
    { ...SOURCE_FLAGS, from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' } },
    CALIBRATE_USAGE,
  );
  const choice = signalChoice(values);
  if (choice.kind === 'live')
    throw new FlexError('FLX_CLI_USAGE', 'calibrate reads recorded data: fetch first, then use --offline <cache dir>');
  const grid = periodRange(values.from ?? '2023-01-01', values.to ?? (values.from ? undefined : '2024-01-01'), 3660);
  let c: ReturnType<typeof calibrate>;
  try {
    c = calibrate(recordedSource(choice).history, grid.start, gridEnd(grid));
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new FlexError(
      'FLX_SIGNAL_UNAVAILABLE',
      `no forecast and outturn pairs to fit between ${new Date(grid.start).toISOString().slice(0, 10)} and ${new Date(gridEnd(grid)).toISOString().slice(0, 10)}: pick a period the data covers (flexlon signals show lists it)`,
      { path: '--from' },
    );
  }
  if (values.json) {
    io.out(
      JSON.stringify(
        { ...c, from: new Date(c.from).toISOString(), to: new Date(c.to).toISOString(), inUse: CALIBRATION_2023 },
        null,
        2,
      ),
    );
    return 0;
  }
  io.out(
    `Forecast errors, ${new Date(c.from).toISOString().slice(0, 10)} to ${new Date(c.to).toISOString().slice(0, 10)} (forecast − outturn):`,
  );
  io.out(fit('carbon: NESO stored forecast', c.carbon, 'gCO2/kWh'));
  io.out(fit("carbon: previous day's actual (persistence)", c.carbonPersistence, 'gCO2/kWh'));
  io.out(fit('price: mean of same half hour, 7 previous days', c.price, '£/MWh'));
  io.out(fit('price: previous day (persistence)', c.pricePersistence, '£/MWh'));
  io.out(
    `in use (src/domain/forecast-vintage.ts): carbon MAE ${CALIBRATION_2023.carbon.mae}, lag-1 r ${CALIBRATION_2023.carbon.phi}; price MAE ${CALIBRATION_2023.price.mae}, lag-1 r ${CALIBRATION_2023.price.phi}`,
  );
  return 0;
};

export const signalsCommand: Command = {
  name: 'signals',
  summary: 'show, import, fetch and calibrate grid signals (carbon intensity, prices)',
  usage: USAGE,
  help: ([sub]) =>
    (
      ({ show: SHOW_USAGE, import: IMPORT_USAGE, fetch: FETCH_USAGE, calibrate: CALIBRATE_USAGE }) as Record<
        string,
        string
      >
    )[sub ?? ''],
  async run(argv, io) {
    const [sub, ...rest] = argv;
    switch (sub) {
      case 'show':
        return runShow(rest, io);
      case 'import':
        return runImport(rest, io);
      case 'fetch':
        return runFetch(rest, io);
      case 'calibrate':
        return runCalibrate(rest, io);
      default:
        throw new FlexError(
          'FLX_CLI_USAGE',
          `${sub === undefined ? 'a subcommand is needed' : `unknown subcommand "${sub}"`}: show, import, fetch or calibrate\n\n${USAGE.split('\n\n')[0]}`,
        );
    }
  },
};
