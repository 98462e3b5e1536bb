// fast-check generators of small planning problems: one or two sites, optional batteries, mixed
// preemptible and non-preemptible jobs over one or several sites, commitments and a carbon cap.
import fc from 'fast-check';
import type { BatterySpec, PlanningProblem, SiteSpec } from '../../src/domain/planning.ts';

const series = (slots: number, lo: number, hi: number) =>
  fc.array(fc.integer({ min: lo, max: hi }), { minLength: slots, maxLength: slots });

const batteryArb: fc.Arbitrary<BatterySpec> = fc
  .record({
    capacityKwh: fc.integer({ min: 0, max: 200 }),
    maxChargeKw: fc.integer({ min: 0, max: 80 }),
    maxDischargeKw: fc.integer({ min: 0, max: 80 }),
    eff: fc.integer({ min: 70, max: 100 }),
    init: fc.double({ min: 0, max: 1, noNaN: true }),
    min: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map((b) => {
    const minSocKwh = Math.round(b.capacityKwh * b.min * 0.5);
    return {
      capacityKwh: b.capacityKwh,
      maxChargeKw: b.maxChargeKw,
      maxDischargeKw: b.maxDischargeKw,
      roundTripEfficiency: b.eff / 100,
      minSocKwh,
      initialSocKwh: Math.round(minSocKwh + (b.capacityKwh - minSocKwh) * b.init),
    };
  });

const siteArb = (id: string, slots: number, tight: boolean): fc.Arbitrary<SiteSpec> =>
  fc
    .record({
      it: fc.integer({ min: tight ? 10 : 80, max: tight ? 80 : 400 }),
      pue: fc.integer({ min: 100, max: 160 }),
      grid: fc.integer({ min: 60, max: 160 }),
      price: series(slots, -30, 300),
      carbon: series(slots, 20, 400),
      battery: fc.option(batteryArb, { nil: undefined }),
    })
    .map((s) => ({
      id,
      itPowerLimitKw: s.it,
      pue: s.pue / 100,
      gridImportLimitKw: Math.round((s.it * s.pue * s.grid) / 10000),
      priceGbpPerMwh: s.price,
      carbonGPerKwh: s.carbon,
      ...(s.battery ? { battery: s.battery } : {}),
    }));

export const problemArb = (o: { maxJobs: number; slots: number; tight?: boolean }): fc.Arbitrary<PlanningProblem> =>
  fc
    .record({
      slots: fc.integer({ min: 2, max: o.slots }),
      twoSites: fc.boolean(),
      seed: fc.integer({ min: 0, max: 1e6 }),
    })
    .chain(({ slots, twoSites }) => {
      const ids = twoSites ? ['a', 'b'] : ['a'];
      return fc
        .record({
          sites: fc.tuple(...ids.map((id) => siteArb(id, slots, o.tight ?? false))),
          jobs: fc.array(
            fc.record({
              duty: fc.integer({ min: 5, max: 100 }),
              power: fc.integer({ min: 5, max: 60 }),
              release: fc.integer({ min: 0, max: slots - 1 }),
              span: fc.integer({ min: 1, max: slots }),
              preemptible: fc.boolean(),
              where: fc.integer({ min: 0, max: 2 }),
            }),
            { minLength: 1, maxLength: o.maxJobs },
          ),
          // The carbon cap as a share of the carbon of all jobs' energy at the mean intensity.
          cap: fc.option(fc.integer({ min: 30, max: 200 }), { nil: undefined }),
          commitments: fc.array(
            fc.record({
              site: fc.constantFrom(...ids),
              from: fc.integer({ min: 0, max: slots - 1 }),
              len: fc.integer({ min: 1, max: 3 }),
              kw: fc.integer({ min: 0, max: 150 }),
            }),
            { maxLength: 2 },
          ),
        })
        .map((r): PlanningProblem => {
          // Energy is a share (duty) of what the job could draw over its whole window, so it can fit.
          const jobs = r.jobs.map((j, i) => {
            const deadlineSlot = Math.min(slots, j.release + j.span);
            const energyKwh = Math.max(1, Math.round((j.power * 0.5 * (deadlineSlot - j.release) * j.duty) / 100));
            return {
              id: `j${i}`,
              energyKwh,
              maxPowerKw: j.power,
              releaseSlot: j.release,
              deadlineSlot,
              preemptible: j.preemptible,
              sites: ids.length === 1 ? ['a'] : j.where === 0 ? ['a'] : j.where === 1 ? ['b'] : ['a', 'b'],
              work: energyKwh * 10,
            };
          });
          const meanCarbon =
            r.sites.reduce((a, s) => a + s.carbonGPerKwh.reduce((x, y) => x + y, 0) * s.pue, 0) /
            (r.sites.length * slots);
          const jobsKg = (jobs.reduce((a, j) => a + j.energyKwh, 0) * meanCarbon) / 1000;
          return {
            version: 1,
            start: '2023-06-01T00:00:00Z',
            slotMinutes: 30,
            slots,
            sites: r.sites,
            jobs,
            ...(r.cap === undefined ? {} : { carbonCapKg: Math.round((jobsKg * r.cap) / 100) }),
            commitments: r.commitments.map((c) => ({
              site: c.site,
              fromSlot: c.from,
              toSlot: Math.min(slots, c.from + c.len),
              maxImportKw: c.kw,
            })),
          };
        });
    });
