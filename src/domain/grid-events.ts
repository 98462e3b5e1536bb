// Grid-side needs and constraints as OpenADR 3-style objects (OpenADR 3.0.1 `program`, `event`,
// `interval`, `valuesMap`, `intervalPeriod`), plus FlexLon's profile for GB DSO flexibility products.
// The OpenADR objects are summarised here in FlexLon's own types; docs/signals.md gives the profile:
//   programType  DSO_PEAK_REDUCTION | DSO_SCHEDULED_UTILISATION | DSO_OPERATIONAL_UTILISATION |
//                DSO_OPERATIONAL_UTILISATION_SCHEDULED_AVAILABILITY (ENA Open Networks standard
//                products, research §3.1), or any other programType for price / carbon programs;
//   payloads     PRICE (£/MWh: the utilisation price), GHG (gCO2/kWh), IMPORT_CAPACITY_LIMIT (kW),
//                DISPATCH_SETPOINT (kW of reduction asked for), SIMPLE (level 0–3), and the private
//                type X_FLX_AVAILABILITY_PRICE (£/MW/h), as OpenADR allows private payload types.
import type { FlexNeed } from './offers.ts';
import { WPD_PERFORMANCE } from './products.ts';
import { epochMs, type EpochMs } from './time.ts';
import { gbpPerMwh, kw } from './units.ts';

export const PAYLOAD_TYPES = [
  'PRICE',
  'GHG',
  'IMPORT_CAPACITY_LIMIT',
  'EXPORT_CAPACITY_LIMIT',
  'DISPATCH_SETPOINT',
  'SIMPLE',
  'X_FLX_AVAILABILITY_PRICE',
] as const;

export const DSO_PRODUCTS = {
  DSO_PEAK_REDUCTION: { name: 'Peak Reduction', availability: false, utilisation: true },
  DSO_SCHEDULED_UTILISATION: { name: 'Scheduled Utilisation', availability: false, utilisation: true },
  DSO_OPERATIONAL_UTILISATION: { name: 'Operational Utilisation', availability: false, utilisation: true },
  DSO_OPERATIONAL_UTILISATION_SCHEDULED_AVAILABILITY: {
    name: 'Operational Utilisation + Scheduled Availability',
    availability: true,
    utilisation: true,
  },
} as const;
export type DsoProduct = keyof typeof DSO_PRODUCTS;

export interface ValuesMap {
  readonly type: string;
  readonly values: readonly unknown[];
}
export interface IntervalPeriod {
  readonly start: string;
  readonly duration?: string;
  readonly randomizeStart?: string;
}
export interface Interval {
  readonly id: number;
  readonly intervalPeriod?: IntervalPeriod;
  readonly payloads: readonly ValuesMap[];
}

export interface Program {
  readonly id?: string;
  readonly objectType?: 'PROGRAM';
  readonly programName: string;
  readonly programLongName?: string | null;
  readonly retailerName?: string | null;
  readonly programType?: string | null;
  readonly country?: string | null;
  readonly principalSubdivision?: string | null;
  readonly intervalPeriod?: IntervalPeriod;
  readonly targets?: readonly ValuesMap[] | null;
  readonly createdDateTime?: string;
}

export interface GridEvent {
  readonly id?: string;
  readonly objectType?: 'EVENT';
  readonly programID: string;
  readonly eventName?: string | null;
  readonly priority?: number | null;
  readonly targets?: readonly ValuesMap[] | null;
  readonly payloadDescriptors?:
    | readonly { readonly payloadType: string; readonly units?: string | null; readonly currency?: string | null }[]
    | null;
  readonly intervalPeriod?: IntervalPeriod;
  readonly intervals: readonly Interval[];
  readonly createdDateTime?: string;
}

/** ISO-8601 duration (the OpenADR `duration` pattern) in milliseconds; months and years are refused. */
export const durationMs = (d: string): number => {
  const m = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(d);
  if (!m || d === 'P' || d.endsWith('T'))
    throw new RangeError(`"${d}" is not an ISO-8601 duration in weeks, days, hours, minutes or seconds (e.g. PT30M)`);
  const [w, dd, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number, number];
  return ((((w * 7 + dd) * 24 + h) * 60 + mi) * 60 + s) * 1000;
};

export interface EventSlot {
  readonly intervalId: number;
  readonly start: EpochMs;
  readonly end: EpochMs;
  readonly payloads: ReadonlyMap<string, readonly unknown[]>;
}

/**
 * The intervals of an event in time. An interval without its own intervalPeriod follows the
 * previous one (OpenADR: the event's intervalPeriod is the default start and duration).
 */
export const eventSlots = (e: GridEvent): EventSlot[] => {
  let next: number | undefined = e.intervalPeriod ? Date.parse(e.intervalPeriod.start) : undefined;
  const defaultMs = e.intervalPeriod?.duration ? durationMs(e.intervalPeriod.duration) : undefined;
  return e.intervals.map((iv, k) => {
    const start = iv.intervalPeriod ? Date.parse(iv.intervalPeriod.start) : next;
    const len = iv.intervalPeriod?.duration ? durationMs(iv.intervalPeriod.duration) : defaultMs;
    if (start === undefined || Number.isNaN(start))
      throw new RangeError(`intervals[${k}] has no start: give event.intervalPeriod or intervals[${k}].intervalPeriod`);
    if (len === undefined || len <= 0)
      throw new RangeError(`intervals[${k}] has no duration: give a duration such as PT30M`);
    next = start + len;
    return {
      intervalId: iv.id,
      start: epochMs(start),
      end: epochMs(start + len),
      payloads: new Map(iv.payloads.map((p) => [p.type, p.values])),
    };
  });
};

const firstNumber = (s: EventSlot, type: string): number | undefined => {
  const v = s.payloads.get(type)?.[0];
  return typeof v === 'number' ? v : undefined;
};

const ACTIONABLE = ['IMPORT_CAPACITY_LIMIT', 'DISPATCH_SETPOINT', 'SIMPLE', 'PRICE', 'GHG'];

/** Payload checks beyond the JSON shape (FlexLon profile); each problem names its path. */
export const eventProblems = (e: GridEvent): string[] => {
  const out: string[] = [];
  let slots: EventSlot[];
  try {
    slots = eventSlots(e);
  } catch (err) {
    return [(err as Error).message];
  }
  e.intervals.forEach((iv, k) =>
    iv.payloads.forEach((p, j) => {
      const path = `intervals[${k}].payloads[${j}]`;
      const numeric = (PAYLOAD_TYPES as readonly string[]).includes(p.type);
      if (numeric && (p.values.length !== 1 || typeof p.values[0] !== 'number' || !Number.isFinite(p.values[0])))
        out.push(`${path}.values: a ${p.type} payload holds one number`);
      else if (p.type === 'SIMPLE' && ![0, 1, 2, 3].includes(p.values[0] as number))
        out.push(`${path}.values: SIMPLE is a level 0, 1, 2 or 3`);
      else if (
        ['IMPORT_CAPACITY_LIMIT', 'EXPORT_CAPACITY_LIMIT', 'DISPATCH_SETPOINT', 'X_FLX_AVAILABILITY_PRICE'].includes(
          p.type,
        ) &&
        (p.values[0] as number) < 0
      )
        out.push(`${path}.values: ${p.type} cannot be negative`);
    }),
  );
  for (let k = 1; k < slots.length; k++)
    if ((slots[k]?.start as number) < (slots[k - 1]?.end as number))
      out.push(`intervals[${k}]: overlaps the interval before it`);
  if (!slots.some((s) => ACTIONABLE.some((t) => s.payloads.has(t))))
    out.push(`intervals: no interval carries ${ACTIONABLE.join(', ')}`);
  return out;
};

export interface NeedDefaults {
  readonly wantedKw: number;
  readonly maxPriceGbpPerMwh: number;
}

export interface EventNeed {
  readonly need: FlexNeed;
  readonly eventId: string;
  readonly programId: string;
  readonly product?: DsoProduct;
  readonly targets: readonly ValuesMap[];
  /** Import limit (kW) asked for during the window, when the event sets one. */
  readonly importLimitKw?: number;
  readonly availabilityGbpPerMwH?: number;
}

const isDso = (t: string | null | undefined): t is DsoProduct => t !== null && t !== undefined && t in DSO_PRODUCTS;

/**
 * The need an event expresses: its first contiguous block of intervals that ask for something
 * (a capacity limit, a dispatch set-point, a SIMPLE level ≥ 1, or a price/GHG signal). Network
 * constraints (IMPORT_CAPACITY_LIMIT, DSO programs) are "import-limit" needs; GHG-only events are
 * "carbon-peak"; anything else "price-peak". Undefined if nothing in the event asks for anything.
 */
export const eventToNeed = (e: GridEvent, program: Program | undefined, d: NeedDefaults): EventNeed | undefined => {
  const asks = (s: EventSlot) =>
    s.payloads.has('IMPORT_CAPACITY_LIMIT') ||
    s.payloads.has('DISPATCH_SETPOINT') ||
    (firstNumber(s, 'SIMPLE') ?? 0) >= 1 ||
    (!s.payloads.has('SIMPLE') && (s.payloads.has('PRICE') || s.payloads.has('GHG')));
  const slots = eventSlots(e);
  const first = slots.findIndex(asks);
  if (first < 0) return undefined;
  let last = first;
  while (slots[last + 1] && asks(slots[last + 1] as EventSlot) && slots[last + 1]?.start === slots[last]?.end) last++;
  const block = slots.slice(first, last + 1);
  const most = (type: string) =>
    block.reduce<number | undefined>((m, s) => {
      const v = firstNumber(s, type);
      return v === undefined ? m : Math.max(m ?? v, v);
    }, undefined);
  const least = (type: string) =>
    block.reduce<number | undefined>((m, s) => {
      const v = firstNumber(s, type);
      return v === undefined ? m : Math.min(m ?? v, v);
    }, undefined);
  const limit = least('IMPORT_CAPACITY_LIMIT');
  const ghgOnly = block.every((s) => s.payloads.has('GHG') && s.payloads.size === 1);
  const kind: FlexNeed['kind'] =
    limit !== undefined || isDso(program?.programType) ? 'import-limit' : ghgOnly ? 'carbon-peak' : 'price-peak';
  const utilisation = most('PRICE');
  const availability = most('X_FLX_AVAILABILITY_PRICE');
  return {
    need: {
      kind,
      windowStart: block[0]?.start as EpochMs,
      windowEnd: block[block.length - 1]?.end as EpochMs,
      wantedKw: kw(most('DISPATCH_SETPOINT') ?? d.wantedKw),
      maxPriceGbpPerMwh: gbpPerMwh(utilisation ?? d.maxPriceGbpPerMwh),
      ...(limit === undefined ? {} : { importLimitKw: kw(limit) }),
      // A DSO program's terms travel with the order (ENA standard products; WPD performance rule).
      ...(isDso(program?.programType)
        ? {
            product: {
              code: program.programType,
              name: DSO_PRODUCTS[program.programType].name,
              measurement: limit === undefined ? ('reduction' as const) : ('import-limit' as const),
              ...(limit === undefined ? {} : { importLimitKw: limit }),
              baseline: 'bl01' as const,
              ...(availability !== undefined && DSO_PRODUCTS[program.programType].availability
                ? { availabilityGbpPerMwH: availability }
                : {}),
              ...(utilisation === undefined ? {} : { utilisationGbpPerMwh: utilisation }),
              performance: WPD_PERFORMANCE,
            },
          }
        : {}),
    },
    eventId: e.id ?? '(unsaved)',
    programId: e.programID,
    targets: e.targets ?? [],
    ...(isDso(program?.programType) ? { product: program.programType } : {}),
    ...(limit === undefined ? {} : { importLimitKw: limit }),
    ...(availability === undefined ? {} : { availabilityGbpPerMwH: availability }),
  };
};

export interface DsoDelivery {
  /** MW declared available, and hours of the availability window. */
  readonly availableMw: number;
  readonly availableHours: number;
  readonly contractedMwh: number;
  readonly deliveredMwh: number;
}

/**
 * What a DSO product pays: availability £/MW/h × MW × h (for products with availability) plus
 * utilisation £/MWh × delivered MWh (capped at contracted), scaled by the performance factor
 * max(0, 1 − 3 × max(0, shortfall − 5 %)) of the WPD/NGED Flexible Power terms (research §3.3).
 */
export const dsoPayment = (
  product: DsoProduct,
  prices: { availabilityGbpPerMwH?: number; utilisationGbpPerMwh: number },
  d: DsoDelivery,
) => {
  const shortfall = d.contractedMwh > 0 ? Math.max(0, 1 - d.deliveredMwh / d.contractedMwh) : 0;
  const performanceFactor = Math.max(0, 1 - 3 * Math.max(0, shortfall - 0.05));
  const availabilityGbp = DSO_PRODUCTS[product].availability
    ? (prices.availabilityGbpPerMwH ?? 0) * d.availableMw * d.availableHours
    : 0;
  const utilisationGbp = prices.utilisationGbpPerMwh * Math.min(d.deliveredMwh, d.contractedMwh);
  return {
    availabilityGbp,
    utilisationGbp,
    performanceFactor,
    totalGbp: (availabilityGbp + utilisationGbp) * performanceFactor,
  };
};
