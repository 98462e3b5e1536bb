// The contract every SignalSource adapter meets, exercised only through the port: one point per
// slot, recorded values for what was known at asOf and nothing later, outturn equal to the
// recorded data (faults handled: no £0 price for a no-trade period, no 0 actual), determinism, and
// a coded error for a region or period the source does not have. An adapter's test calls
// signalSourceContract(name, open) once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FlexError } from '../../src/errors.ts';
import { epochMs, slotStart, type EpochMs, type SlotGrid } from '../../src/domain/time.ts';
import type { SignalSource } from '../../src/ports.ts';

export interface SignalFixture {
  readonly source: SignalSource;
  /** A region the source holds, and a grid of slots inside its data. */
  readonly region: string;
  readonly grid: SlotGrid;
  /** Recorded values of one slot of `grid` (from the underlying data, independently of the adapter). */
  readonly known: {
    readonly slot: number;
    readonly carbonForecast: number;
    readonly carbonActual?: number;
    readonly price?: number;
  };
  /** A slot of `grid` whose period had no trades (zero volume) or no actual, if the data has one. */
  readonly fault?: { readonly slot: number; readonly field: 'price' | 'carbonActual' };
  readonly cleanup: () => Promise<void>;
}

type Open = () => Promise<SignalFixture>;

const withFixture = (open: Open, fn: (f: SignalFixture) => Promise<void>) => async () => {
  const f = await open();
  try {
    await fn(f);
  } finally {
    await f.cleanup();
  }
};

const rejectsWith = async (p: Promise<unknown>, code: string) => {
  await assert.rejects(p, (e: unknown) => e instanceof FlexError && e.code === code && e.message.length > 20);
};

export const signalSourceContract = (name: string, open: Open): void => {
  describe(`SignalSource contract: ${name}`, () => {
    test(
      'forecast: one point per slot, in order, for the region asked, issued no later than asOf',
      withFixture(open, async ({ source, region, grid }) => {
        const asOf = epochMs(grid.start + 3 * 1_800_000 + 60_000);
        const s = await source.forecast(region, grid, asOf);
        assert.equal(s.points.length, grid.slots);
        assert.equal(s.region, region);
        assert.equal(s.slotMinutes, grid.slotMinutes);
        assert.ok(s.issuedAt <= asOf, 'issued no later than asOf');
        s.points.forEach((p, i) => {
          assert.equal(p.start, slotStart(grid, i));
          assert.ok(Number.isFinite(p.carbonForecast));
          assert.equal(p.carbonActual, undefined, 'a forecast carries no outturn');
        });
      }),
    );

    test(
      'forecast: what was known at asOf is the recorded value; the same call gives the same answer',
      withFixture(open, async ({ source, region, grid, known }) => {
        const asOf = epochMs(slotStart(grid, known.slot) + 1_800_000); // the known period has ended
        const a = await source.forecast(region, grid, asOf);
        const b = await source.forecast(region, grid, asOf);
        assert.deepEqual(a, b);
        assert.equal(a.points[known.slot]?.carbonForecast, known.carbonForecast);
        if (known.price !== undefined) assert.equal(a.points[known.slot]?.price, known.price);
      }),
    );

    test(
      'forecast made before a period is not simply its later recorded value (no look-ahead)',
      withFixture(open, async ({ source, region, grid, known }) => {
        const dayBefore = epochMs(slotStart(grid, known.slot) - 86_400_000);
        const early = await source.forecast(region, grid, dayBefore);
        const late = await source.forecast(region, grid, epochMs(slotStart(grid, known.slot)));
        assert.equal(late.points[known.slot]?.carbonForecast, known.carbonForecast);
        const diffs = early.points.filter(
          (p, i) => p.carbonForecast !== late.points[i]?.carbonForecast || p.price !== late.points[i]?.price,
        );
        assert.ok(diffs.length > 0, 'a day-ahead view differs from the view at the period');
      }),
    );

    test(
      'outturn: the recorded values, with faults as missing values rather than zeros',
      withFixture(open, async ({ source, region, grid, known, fault }) => {
        const s = await source.outturn(region, grid);
        assert.equal(s.points.length, grid.slots);
        const p = s.points[known.slot];
        assert.equal(p?.carbonForecast, known.carbonForecast);
        assert.equal(p?.carbonActual, known.carbonActual);
        assert.equal(p?.price, known.price);
        if (fault)
          assert.equal(
            s.points[fault.slot]?.[fault.field],
            undefined,
            `${fault.field} of slot ${fault.slot} is missing, not 0`,
          );
        for (const q of s.points) assert.notEqual(q.carbonActual, 0);
      }),
    );

    test(
      'a region it does not know, or a period it has no data for, is a coded error',
      withFixture(open, async ({ source, region, grid }) => {
        await rejectsWith(source.forecast('Atlantis', grid, grid.start), 'FLX_SIGNAL_UNAVAILABLE');
        const far: SlotGrid = { ...grid, start: epochMs(Date.UTC(2031, 0, 1)) as EpochMs };
        await rejectsWith(source.outturn(region, far), 'FLX_SIGNAL_UNAVAILABLE');
      }),
    );
  });
};
