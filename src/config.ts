// Configuration is validated into typed objects at start-up; a bad value fails fast with a message
// naming the field (and the flag or environment variable that set it) and what would be accepted.
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlexError } from './errors.ts';
import { parseLogLevel, type LogLevel } from './log.ts';
import { DEFAULT_SITE_PROFILE, SITE_PROFILES, type SiteProfile } from './sim/site-profile.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const gridFile = (name: string): string => join(PROJECT_ROOT, 'data', 'grid', name);
/**
 * The shipped GB data (data/grid/README.md): national carbon 2022-11-25 → 2024-09, MID 2022-11-25 →
 * 2024, a regional sample. The weeks before 2023 are there so that a day early in 2023 has the
 * history a price forecast or a baseline reads.
 */
export const SHIPPED_GRID = {
  carbon: [
    gridFile('gb_carbon_intensity_national_2022-11-25_2022-12-31.csv'),
    gridFile('gb_carbon_intensity_national_2023.csv'),
    gridFile('gb_carbon_intensity_national_2024-01_2024-09.csv'),
  ],
  price: [
    gridFile('gb_market_index_price_apx_2022-11-25_2022-12-31.csv'),
    gridFile('gb_market_index_price_apx_2023.csv'),
    gridFile('gb_market_index_price_apx_2024.csv'),
  ],
  regional: [gridFile('gb_regional_carbon_intensity_neso_2023-12-05_2024-03-03.csv')],
} as const;

export interface DemoConfig {
  readonly dataDir: string;
  readonly date: string;
  /** Wall-clock seconds one market day takes in the replay. */
  readonly secondsPerDay: number;
  readonly seed: number;
  /**
   * How busy each simulated site is (src/sim/site-profile.ts): `busy` (default; DGX A100 nodes, the
   * day's GPU-hours 95 % of the pool's) or `half-idle` (the demo before issue 13, unchanged).
   */
  readonly siteProfile: SiteProfile;
  /** Deferrable jobs per site; absent: the profile's own (36 half-idle; busy: as many as fill 95 %). */
  readonly jobs?: number;
  /** Simulated sites behind the one BPP (1–MAX_DEMO_SITES); each has its own agent, queue and meter. */
  readonly sites: number;
  /**
   * Who sells the sites: `one` BPP for every site (default; it can split an offer across them), or
   * `per-site`: each site its own provider, so the buyer procures across providers (issue 16).
   */
  readonly providers: 'one' | 'per-site';
  /** Settlement baseline: `fifo` (the counterfactual twin) or `bl01` (P376-style, over simulated history). */
  readonly baseline: 'fifo' | 'bl01';
  /**
   * Carbon cap: `fifo` (default: the day's emissions no more than the same queues' on FIFO, kept over the day,
   * issue 13 item 7), none, or kg.
   */
  readonly carbonCap: CarbonCapSetting;
  /**
   * The capacity value's share for the operational plan (src/optimise/capacity-value.ts): 0, the
   * default, weighs none (offers at --jobs 300 --sites 3 then still sell; docs/cost-model.md).
   */
  readonly capacityValueShare: number;
  readonly serve: boolean;
  readonly logLevel: LogLevel;
  readonly grid: {
    readonly carbon: readonly string[];
    readonly price: readonly string[];
    readonly regional: readonly string[];
  };
  /** OpenADR-style grid programs/events (JSON) given to the Grid Orchestrator before the day starts. */
  readonly events?: string;
}

export interface DemoInput {
  readonly dataDir?: string | undefined;
  readonly date?: string | undefined;
  readonly secondsPerDay?: string | undefined;
  readonly seed?: string | undefined;
  readonly jobs?: string | undefined;
  readonly siteProfile?: string | undefined;
  readonly sites?: string | undefined;
  readonly providers?: string | undefined;
  readonly baseline?: string | undefined;
  readonly carbonCap?: string | undefined;
  readonly capacityValue?: string | undefined;
  readonly serve?: boolean | undefined;
  readonly logLevel?: string | undefined;
  readonly events?: string | undefined;
}

/** True for a YYYY-MM-DD that names a real day (Date.parse would roll 2023-02-30 over to 2 March). */
export const isCalendarDay = (s: string): boolean => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const t = Date.parse(`${s}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === s;
};

/** Expands a leading ~ (a quoted `~/x` reaches us unexpanded by the shell). */
export const expandHome = (p: string): string =>
  p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;

const invalid = (field: string, why: string): FlexError =>
  new FlexError('FLX_CONFIG_INVALID', `${field}: ${why}`, { path: field });

const number = (
  field: string,
  raw: string | undefined,
  fallback: number,
  lo: number,
  hi: number,
  integer = false,
): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < lo || n > hi || (integer && !Number.isInteger(n))) {
    throw invalid(field, `must be ${integer ? 'a whole number' : 'a number'} from ${lo} to ${hi}, got "${raw}"`);
  }
  return n;
};

/**
 * Below this the replayed market outruns the protocol: pricing an offer and the select → confirm
 * round trips take about a second of wall time, which at 5 s per day is over two market hours —
 * longer than the two-hour lead the grid side procures with, so every quote expires.
 */
export const MIN_SECONDS_PER_DAY = 15;

const secondsPerDay = (raw: string | undefined): number => {
  const n = number('--seconds-per-day', raw, 20, 1, 86_400);
  if (n < MIN_SECONDS_PER_DAY) {
    throw invalid(
      '--seconds-per-day',
      `must be at least ${MIN_SECONDS_PER_DAY}, got "${raw}": faster, the replayed market clock outruns the Beckn message round trips (about a second of real time to price an offer and confirm it) and every quote expires before it can be confirmed`,
    );
  }
  return n;
};

/**
 * Simulated sites the demo allows: the four compose.ts defines (lon, man, edi, cdf). With three or
 * more, re-plans are carried and the fresh plan made in the background (docs/benchmarks.md,
 * "Re-planning in the live market"), so pricing keeps up with the replayed day.
 */
export const MAX_DEMO_SITES = 4;

/** The demo's carbon cap: none, FIFO's kg (the default), FIFO's kg per kWh, or kg over each plan's horizon. */
export type CarbonCapSetting = 'none' | 'fifo' | 'fifo-intensity' | number;

/** The product promises least £ per unit of work under a carbon cap, so a cap is on unless the operator says none. */
const carbonCapOf = (raw: string | undefined): CarbonCapSetting => {
  if (raw === undefined || raw === 'none' || raw === 'fifo' || raw === 'fifo-intensity') return raw ?? 'fifo';
  const kg = Number(raw);
  if (raw.trim() !== '' && Number.isFinite(kg) && kg >= 0) return kg;
  throw invalid(
    '--carbon-cap',
    `must be none, fifo (the day's emissions no more than the same queue's on FIFO), fifo-intensity (no more CO2 per kWh than on FIFO) or kg ≥ 0, got "${raw}"`,
  );
};

const siteProfileOf = (raw: string | undefined): SiteProfile => {
  if (raw === undefined) return DEFAULT_SITE_PROFILE;
  const p = SITE_PROFILES.find((x) => x === raw);
  if (p !== undefined) return p;
  throw invalid(
    '--site-profile',
    `must be busy (a training site whose queue asks for 95 % of its GPU-hours, DGX A100 nodes) or half-idle (36 jobs on 3.9 kW nodes, the demo before issue 13), got "${raw}"`,
  );
};

const baselineKind = (raw: string | undefined): 'fifo' | 'bl01' => {
  if (raw === undefined || raw === 'fifo' || raw === 'bl01') return raw ?? 'fifo';
  throw invalid(
    '--baseline',
    `must be fifo (the same queue on a plain FIFO scheduler) or bl01 (P376-style, from the previous days' meter), got "${raw}"`,
  );
};

const providersOf = (raw: string | undefined): DemoConfig['providers'] => {
  if (raw === undefined || raw === 'one') return 'one';
  if (raw === 'per-site') return 'per-site';
  throw invalid('--providers', `must be one (a BPP selling every site) or per-site (a BPP per site), got "${raw}"`);
};

export const defaultDataDir = (env: NodeJS.ProcessEnv = process.env): string =>
  env.FLEXLON_DATA_DIR && env.FLEXLON_DATA_DIR.trim() !== ''
    ? resolve(expandHome(env.FLEXLON_DATA_DIR))
    : join(homedir() || process.cwd(), '.flexlon');

export const demoConfig = (input: DemoInput, env: NodeJS.ProcessEnv = process.env): DemoConfig => {
  const date = input.date ?? '2023-01-24';
  if (!isCalendarDay(date)) throw invalid('--date', `must be a real calendar day as YYYY-MM-DD, got "${date}"`);
  const logLevel = input.logLevel ?? env.FLEXLON_LOG_LEVEL;
  if (logLevel !== undefined && parseLogLevel(logLevel, 'silent') !== logLevel)
    throw invalid('--log-level', `must be one of debug, info, warn, error, silent, got "${logLevel}"`);
  return {
    dataDir: input.dataDir !== undefined ? resolve(expandHome(input.dataDir)) : defaultDataDir(env),
    date,
    secondsPerDay: secondsPerDay(input.secondsPerDay),
    seed: number('--seed', input.seed, 7, 0, 2 ** 31 - 1, true),
    siteProfile: siteProfileOf(input.siteProfile),
    ...(input.jobs === undefined ? {} : { jobs: number('--jobs', input.jobs, 0, 1, 2000, true) }),
    sites: number('--sites', input.sites, 1, 1, MAX_DEMO_SITES, true),
    providers: providersOf(input.providers),
    baseline: baselineKind(input.baseline),
    carbonCap: carbonCapOf(input.carbonCap),
    capacityValueShare: number('--capacity-value', input.capacityValue, 0, 0, 1),
    serve: input.serve ?? false,
    logLevel: parseLogLevel(logLevel, 'warn'),
    grid: SHIPPED_GRID,
    ...(input.events === undefined ? {} : { events: resolve(input.events) }),
  };
};
