// The shipped data as the loader sees it: every known fault found and reported per file (the
// counts data/grid/README.md states), clock-change days consistent, and the calibration figures in
// src/domain/forecast-vintage.ts re-measured from the data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { CsvSignalSource } from '../../src/adapters/signals-csv/source.ts';
import { SHIPPED_GRID } from '../../src/config.ts';
import { calibrate } from '../../src/domain/calibration.ts';
import { CALIBRATION_2023 } from '../../src/domain/forecast-vintage.ts';
import { countFaults, type DataFault } from '../../src/domain/signal-history.ts';
import { epochMs } from '../../src/domain/time.ts';

const source = new CsvSignalSource(SHIPPED_GRID);
const byFile = (name: string): DataFault[] => source.history.faults.filter((f) => basename(f.file) === name);
const counts = (name: string) =>
  Object.fromEntries(countFaults(byFile(name)).map((c) => [c.kind, [c.count, c.periods]]));
const iso = (t: number | undefined) => (t === undefined ? '' : new Date(t).toISOString().slice(0, 16) + 'Z');

test('national carbon: the October 2023 and June 2024 gaps, empty and zero actuals', () => {
  // December 2022: 41 empty actuals on the 9th and 10th, nothing else.
  assert.deepEqual(counts('gb_carbon_intensity_national_2022-11-25_2022-12-31.csv'), { 'blank-actual': [41, 41] });
  assert.deepEqual(counts('gb_carbon_intensity_national_2023.csv'), {
    'missing-period': [1, 91],
    'blank-actual': [5, 5],
    'zero-actual': [5, 5],
  });
  const gap = byFile('gb_carbon_intensity_national_2023.csv').find((f) => f.kind === 'missing-period');
  assert.deepEqual([iso(gap?.from), iso(gap?.to)], ['2023-10-20T22:00Z', '2023-10-22T19:00Z']);
  assert.deepEqual(
    byFile('gb_carbon_intensity_national_2023.csv')
      .filter((f) => f.kind === 'zero-actual')
      .map((f) => iso(f.from)),
    ['2023-01-31T01:00Z', '2023-06-07T09:30Z', '2023-06-07T10:00Z', '2023-06-07T10:30Z', '2023-06-07T11:00Z'],
  );
  assert.deepEqual(counts('gb_carbon_intensity_national_2024-01_2024-09.csv'), { 'missing-period': [1, 31] });
});

test('MID: missing periods, no-trade periods, and clock-change days whose settlement periods match their UTC starts', () => {
  assert.deepEqual(counts('gb_market_index_price_apx_2023.csv'), {
    'missing-period': [5, 5],
    'zero-volume': [15, 15],
    'clock-change-day': [2, 96],
  });
  assert.deepEqual(counts('gb_market_index_price_apx_2022-11-25_2022-12-31.csv'), {});
  // The cold snap of 12 December 2022: the dearest half hour of the shipped MID.
  assert.equal(source.history.get(18, Date.parse('2022-12-12T16:30Z'))?.price, 820.63);
  assert.deepEqual(counts('gb_market_index_price_apx_2024.csv'), {
    'missing-period': [1, 1],
    'clock-change-day': [2, 96],
  });
  assert.deepEqual(
    source.history.faults.filter((f) => f.kind === 'clock-change-day').map((f) => f.detail),
    [
      '2023-03-26 is a clock-change day with 46 settlement periods; 46 present',
      '2023-10-29 is a clock-change day with 50 settlement periods; 50 present',
      '2024-03-31 is a clock-change day with 46 settlement periods; 46 present',
      '2024-10-27 is a clock-change day with 50 settlement periods; 50 present',
    ],
  );
  assert.equal(source.history.faults.filter((f) => f.kind === 'settlement-period-mismatch').length, 0);
  assert.equal(source.history.get(18, Date.parse('2023-01-28T03:30Z'))?.price, undefined, 'no trades is not £0');
  assert.equal(source.history.get(18, Date.parse('2023-01-28T03:30Z'))?.priceVolume, 0);
});

test('regional sample: the NESO gap, blank rows, the implausible row, and the label shift', () => {
  assert.deepEqual(counts('gb_regional_carbon_intensity_neso_2023-12-05_2024-03-03.csv'), {
    'missing-period': [1, 1076],
    'blank-row': [30, 30],
    'implausible-row': [1, 1],
    'shifted-label': [1, 1],
  });
  const bad = byFile('gb_regional_carbon_intensity_neso_2023-12-05_2024-03-03.csv').find(
    (f) => f.kind === 'implausible-row',
  );
  assert.equal(iso(bad?.from), '2023-12-28T04:00Z', 'label 03:00, shifted an hour');
  assert.deepEqual(source.history.regionIds(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 18]);
});

test('a forecast over the October 2023 gap fills the missing periods and lists every one it filled', async () => {
  const grid = { start: epochMs(Date.parse('2023-10-21T00:00Z')), slotMinutes: 30, slots: 48 };
  const s = await source.forecast('GB', grid, grid.start);
  assert.equal(s.points.length, 48);
  assert.equal(s.filled?.filter((f) => f.field === 'carbonForecast').length, 48);
  assert.match(s.filled?.[0]?.how ?? '', /same half hour 1 day\(s\) earlier \(2023-10-20T00:00Z\)/);
  assert.equal(s.points[0]?.carbonForecast, source.history.get(18, Date.parse('2023-10-20T00:00Z'))?.carbonForecast);
});

test('the calibration in use is what the 2023 data measures', () => {
  // Measured on the 2023 files alone, as it was made (with December 2022 beside them, the first
  // day's price error has a day before it: MAE 21.34 against 21.32).
  const in2023 = (files: readonly string[]) => files.filter((f) => basename(f).includes('_2023'));
  const only2023 = new CsvSignalSource({ carbon: in2023(SHIPPED_GRID.carbon), price: in2023(SHIPPED_GRID.price) });
  const c = calibrate(only2023.history, Date.UTC(2023, 0, 1), Date.UTC(2024, 0, 1));
  assert.equal(c.carbon.mae.toFixed(2), CALIBRATION_2023.carbon.mae.toFixed(2));
  assert.equal(c.carbon.phi.toFixed(3), CALIBRATION_2023.carbon.phi.toFixed(3));
  assert.equal(c.price.mae.toFixed(2), CALIBRATION_2023.price.mae.toFixed(2));
  assert.equal(c.price.phi.toFixed(3), CALIBRATION_2023.price.phi.toFixed(3));
  assert.ok(Math.abs(c.carbon.bias + 0.9) < 0.01, 'bias −0.9 as the data notes say');
});
