// Seeded identifiers (src/domain/ids.ts) as the demo uses them (src/compose/market.ts idSeedOf):
// repeatable for a run, never shared between providers or replayed days.
import { describe, it } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { seededIds } from '../../src/domain/ids.ts';
import { idSeedOf, marketVariantOf } from '../../src/compose/market.ts';
import { demoConfig } from '../../src/config.ts';
import { settlementDayStart } from '../../src/domain/settlement-day.ts';

const day = (d: string) => settlementDayStart(d);
const firstOrder = (seed: number) => seededIds(seed).next('flx');

describe('seeded ids in the demo', () => {
  it('name the same run alike, and another day or provider otherwise', () => {
    const jan = firstOrder(idSeedOf(42, 0, day('2023-01-24')));
    assert.equal(firstOrder(idSeedOf(42, 0, day('2023-01-24'))), jan);
    assert.match(jan, /^flx-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // A DSO engineer read the same order id on 2023-01-24 and 2023-07-11 as one order.
    assert.notEqual(firstOrder(idSeedOf(42, 0, day('2023-07-11'))), jan);
    assert.notEqual(firstOrder(idSeedOf(42, 1, day('2023-01-24'))), jan);
    assert.notEqual(firstOrder(idSeedOf(43, 0, day('2023-01-24'))), jan);
    // Settlement days start at 00:00 UTC (GMT) or 23:00 UTC the evening before (BST): the spring
    // change's day (00:00 UTC on the 26th) and the next (23:00 UTC on the 26th) are two days.
    const days = ['2023-03-25', '2023-03-26', '2023-03-27', '2023-10-28', '2023-10-29', '2023-10-30', '2023-07-12'];
    const seeds = days.map((d) => idSeedOf(42, 0, day(d)));
    assert.equal(new Set(seeds).size, days.length, seeds.join(', '));
  });

  it('name two different markets on the same day and seed apart, and one market alike however it is run', () => {
    const of = (input: Parameters<typeof demoConfig>[0]) =>
      firstOrder(idSeedOf(7, 0, day('2023-01-24'), marketVariantOf(demoConfig(input, {}))));
    const plain = of({});
    // `npm start` and `flexlon demo --jobs 150` printed one order id for 56.5 kW at £2.83 and 14.4 kW at £3.62.
    for (const other of [
      { jobs: '150' },
      { sites: '3' },
      { baseline: 'bl01' },
      { carbonCap: 'none' },
      { siteProfile: 'half-idle' },
    ])
      assert.notEqual(of(other), plain, JSON.stringify(other));
    // The clock's speed, the data folder and logging change nothing in the market.
    assert.equal(of({ secondsPerDay: '60', dataDir: '/tmp/elsewhere', logLevel: 'silent' }), plain);
    // An events file counts by what it holds: one name, two programmes, two markets.
    const dir = mkdtempSync(join(tmpdir(), 'flexlon-ids-'));
    try {
      const file = (sub: string, text: string) => {
        mkdirSync(join(dir, sub));
        writeFileSync(join(dir, sub, 'events.json'), text);
        return join(dir, sub, 'events.json');
      };
      const [a, b, c] = [file('a', '{"programs":[1]}'), file('b', '{"programs":[2]}'), file('c', '{"programs":[1]}')];
      assert.notEqual(of({ events: a }), of({ events: b }));
      assert.equal(of({ events: a }), of({ events: c }), 'the same contents elsewhere');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
