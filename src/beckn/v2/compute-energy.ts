// DEG compute-energy (issue 18, first slice, pure functions): FlexLon's Flexibility Orchestrator
// as the compute agent (BAP) reads a grid agent's windows and turns the ones it holds into planning
// signals. Not wired yet: no grid agent answers, nothing is ordered, no workload-shift or
// carbon-spike update flows (docs/beckn-2.md, "Compute-energy").
//
// - gridWindowsFromCatalog: a compute-energy catalogue → GridWindows (grid area, UTC window,
//   £/MWh, gCO2/kWh, renewable share, capacity), from the DEG df-new-flow draft (beckn:-prefixed
//   JSON-LD keys, `beckn:items` with `beckn:itemAttributes` ComputeEnergyWindow, priced by the
//   `beckn:offers` naming them; examples/compute-energy/examples/1.discover) or the LTS shape
//   (resources with resourceAttributes, offers with resourceIds and a price consideration).
//   The draft's timeWindow has times of day only ("10:00:00Z"): the day is the catalogue's validity
//   start, and an end before the start is the next day. Prices other than GBP per kWh are not read
//   (FlexLon plans in GBP; never converted) and are listed as skipped with the reason.
// - computeEnergyDiscover: FlexLon's LTS discover for windows in some grid areas (a JSONPath filter
//   inside intent, as LTS requires).
// - contractedSignals: a SignalSource whose price and carbon are the held windows' in their slots
//   and region, the base source's elsewhere: what the planner sees once windows are bought.
import type { SignalSeries } from '../../domain/signals.ts';
import { epochMs, type EpochMs, type SlotGrid } from '../../domain/time.ts';
import { gbpPerMwh, type GramsCo2PerKwh, type PoundsPerMwh } from '../../domain/units.ts';
import type { SignalSource } from '../../ports.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface GridWindow {
  readonly offerId: string;
  readonly resourceId: string;
  readonly gridArea: string;
  readonly start: EpochMs;
  readonly end: EpochMs;
  readonly priceGbpPerMwh: PoundsPerMwh;
  readonly carbonGPerKwh: GramsCo2PerKwh;
  readonly renewablePercent: number | undefined;
  readonly availableKw: number | undefined;
}

export interface Skipped {
  readonly offerId: string;
  readonly path: string;
  readonly reason: string;
}

/** A key in either spelling: `beckn:x` (DEG draft JSON-LD) or `x` (LTS). */
const get = (o: Obj | undefined, key: string): unknown => (o === undefined ? undefined : (o[`beckn:${key}`] ?? o[key]));
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const DAY_MS = 86_400_000;

/** An ISO time of day ("10:00:00Z") on `day` (UTC midnight), or a full date-time as it is. */
const at = (v: unknown, day: number): number => {
  if (typeof v !== 'string') return NaN;
  if (/^\d{2}:\d{2}(:\d{2})?Z$/.test(v)) return day + Date.parse(`1970-01-01T${v}`);
  return /Z$|[+-]\d{2}:\d{2}$/.test(v) ? Date.parse(v) : NaN;
};

/** The windows of one compute-energy catalogue; offers FlexLon cannot read are listed in `skipped`. */
export const gridWindowsFromCatalog = (
  catalog: unknown,
  path = 'message.catalogs[0]',
): { windows: GridWindow[]; skipped: Skipped[] } => {
  const c = isObj(catalog) ? catalog : {};
  const validity = isObj(get(c, 'validity')) ? (get(c, 'validity') as Obj) : {};
  const validFrom = Date.parse(String(validity['schema:startDate'] ?? validity.startDate ?? ''));
  const day = Number.isNaN(validFrom) ? NaN : validFrom - (validFrom % DAY_MS);
  const resources = [...arr(get(c, 'items')), ...arr(c.resources)].filter(isObj);
  const windows: GridWindow[] = [];
  const skipped: Skipped[] = [];
  arr(get(c, 'offers')).forEach((o, i) => {
    if (!isObj(o)) return;
    const op = `${path}.offers[${i}]`;
    const offerId = String(get(o, 'id') ?? '');
    const skip = (reason: string, where = op) => skipped.push({ offerId, path: where, reason });
    const ids = [...arr(get(o, 'items')), ...arr(o.resourceIds)];
    const r = resources.find((x) => ids.includes(get(x, 'id')));
    const a = isObj(get(r, 'itemAttributes')) ? (get(r, 'itemAttributes') as Obj) : (r?.resourceAttributes as Obj);
    if (!isObj(a) || !String(a['@type'] ?? '').endsWith('ComputeEnergyWindow'))
      return skip('names no ComputeEnergyWindow resource');
    const grid = isObj(get(a, 'gridParameters')) ? (get(a, 'gridParameters') as Obj) : {};
    const tw = isObj(get(a, 'timeWindow')) ? (get(a, 'timeWindow') as Obj) : {};
    const cap = isObj(get(a, 'capacityParameters')) ? (get(a, 'capacityParameters') as Obj) : {};
    // The price: the draft's beckn:price {value, currency} per the offerAttributes unit (per_kWh); the
    // LTS shape a consideration whose attributes carry currency and value per kWh.
    const lts = arr(o.considerations).find(isObj) as Obj | undefined;
    const price = isObj(get(o, 'price'))
      ? (get(o, 'price') as Obj)
      : isObj(lts?.considerationAttributes)
        ? (lts.considerationAttributes as Obj)
        : {};
    const attrs = isObj(get(o, 'offerAttributes')) ? (get(o, 'offerAttributes') as Obj) : {};
    const unit = get(attrs, 'unit') ?? price.unit ?? 'per_kWh';
    if (price.currency !== 'GBP')
      return skip(`priced in ${JSON.stringify(price.currency)}; FlexLon plans in GBP and does not convert`);
    if (unit !== 'per_kWh') return skip(`priced ${JSON.stringify(unit)}; FlexLon reads per_kWh`);
    const perKwh = Number(price.value);
    const carbon = Number(grid.carbonIntensity);
    if (!Number.isFinite(perKwh)) return skip('has no numeric price value');
    if (!Number.isFinite(carbon) || (grid.carbonIntensityUnit ?? 'gCO2/kWh') !== 'gCO2/kWh')
      return skip('states no carbon intensity in gCO2/kWh');
    const start = at(tw.start ?? tw.startDate, day);
    let end = at(tw.end ?? tw.endDate, day);
    if (Number.isNaN(start) || Number.isNaN(end)) return skip('has no readable time window (UTC)');
    if (end <= start) end += DAY_MS; // "22:00:00Z" to "06:00:00Z": over midnight
    const mw = cap.capacityUnit === 'MW' ? 1000 : cap.capacityUnit === 'kW' ? 1 : NaN;
    windows.push({
      offerId,
      resourceId: String(get(r, 'id') ?? ''),
      gridArea: String(grid.gridArea ?? ''),
      start: epochMs(start),
      end: epochMs(end),
      priceGbpPerMwh: gbpPerMwh(Math.round(perKwh * 1000 * 100) / 100),
      carbonGPerKwh: carbon as GramsCo2PerKwh,
      renewablePercent: typeof grid.renewableMix === 'number' ? grid.renewableMix : undefined,
      availableKw: Number.isFinite(Number(cap.availableCapacity) * mw) ? Number(cap.availableCapacity) * mw : undefined,
    });
  });
  return { windows, skipped };
};

/**
 * FlexLon's LTS discover for compute-energy windows in `areas` within [from, to), optionally with at
 * least `minRenewablePercent` renewable (the DEG draft puts such a filter at the top of message; LTS
 * wants it inside intent).
 */
export const computeEnergyDiscover = (
  context: Obj,
  areas: readonly string[],
  within?: { readonly from: number; readonly to: number },
  minRenewablePercent?: number,
): object => ({
  context: { ...context, action: 'discover' },
  message: {
    intent: {
      textSearch: 'Grid flexibility windows',
      filters: {
        type: 'jsonpath',
        expression:
          `$[?(@.resourceAttributes.gridParameters.gridArea in [${areas.map((a) => `'${a.replace(/'/g, '')}'`).join(', ')}]` +
          (within
            ? ` && @.resourceAttributes.timeWindow.start >= '${new Date(within.from).toISOString()}'` +
              ` && @.resourceAttributes.timeWindow.end <= '${new Date(within.to).toISOString()}'`
            : '') +
          (minRenewablePercent === undefined
            ? ''
            : ` && @.resourceAttributes.gridParameters.renewableMix >= ${minRenewablePercent}`) +
          ')]',
      },
    },
  },
});

/** What a compute-energy discover asks for (the terms computeEnergyDiscover writes). */
export const readComputeEnergyDiscover = (
  message: unknown,
): { areas: string[]; from: number | undefined; to: number | undefined } => {
  const m = isObj(message) ? message : {};
  const intent = isObj(m.intent) ? m.intent : {};
  const filters = isObj(intent.filters) ? intent.filters : {};
  const e = typeof filters.expression === 'string' ? filters.expression : '';
  const list = /gridArea in \[([^\]]*)\]/.exec(e)?.[1] ?? '';
  const areas = [...list.matchAll(/'([^']*)'/g)].map((x) => x[1] as string);
  const time = (op: string, field: string) => {
    const v = new RegExp(`timeWindow\\.${field} ${op} '([^']+)'`).exec(e)?.[1];
    return v === undefined ? undefined : Date.parse(v);
  };
  return { areas, from: time('>=', 'start'), to: time('<=', 'end') };
};

/**
 * The base source with the held windows laid over it: in each slot a window of `region`'s grid area
 * covers, the forecast price is the window's £/MWh and the carbon its gCO2/kWh (the grid agent's
 * figures, which the contract fixes); outside them, the base forecast. `regionOf` names FlexLon's
 * signal region of a grid area (undefined: the window applies to no region FlexLon plans in).
 */
export const contractedSignals = (
  base: SignalSource,
  windows: readonly GridWindow[],
  regionOf: (gridArea: string) => string | undefined,
): SignalSource => ({
  async forecast(region: string, grid: SlotGrid, asOf: EpochMs): Promise<SignalSeries> {
    const s = await base.forecast(region, grid, asOf);
    const mine = windows.filter((w) => regionOf(w.gridArea) === region);
    if (mine.length === 0) return s;
    return {
      ...s,
      basis: `${s.basis ?? 'forecast'}, with ${mine.length} contracted grid window(s)`,
      points: s.points.map((p) => {
        const w = mine.find((x) => p.start >= x.start && p.start < x.end);
        return w ? { ...p, price: w.priceGbpPerMwh, carbonForecast: w.carbonGPerKwh } : p;
      }),
    };
  },
  outturn: (region, grid) => base.outturn(region, grid),
});
