// The simulated site's profiles (issue 13 item 6): the busy default keeps the training pool at least
// 85 % busy, measured on the day's queue (GPU-hours asked for) and on the site's own FIFO scheduler
// (GPU-hours run in the day); half-idle is the day the demo had before, job for job.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimCluster } from '../../src/adapters/scheduler-sim/cluster.ts';
import { demoConfig } from '../../src/config.ts';
import { epochMs } from '../../src/domain/time.ts';
import { FlexError } from '../../src/errors.ts';
import { ConfigReader } from '../../src/run/config-reader.ts';
import { readAgent } from '../../src/run/roles.ts';
import {
  A100_SXM_NODE,
  DGX_A100_NODE,
  DGX_H100_NODE,
  gpuMarginalKw,
  nodeIdleKw,
  nodeMaxKw,
} from '../../src/sim/power.ts';
import { BUSY_OFFERED_LOAD, offeredLoad, profilePower, siteDay } from '../../src/sim/site-profile.ts';
import { CLOCK_CHANGE_DAYS } from '../helpers/clock-change.ts';
import { projectRoot } from '../helpers/shared.ts';

const DAY_MS = 86_400_000;
const dayStart = epochMs(Date.parse('2023-01-24T00:00:00Z'));
/** The demo's sites (src/compose/market.ts SIM_SITES) and their seeds for --seed 7. */
const SITES = [
  { id: 'lon', trainingNodes: 32, gridImportLimitKw: 400, seed: 7 },
  { id: 'man', trainingNodes: 24, gridImportLimitKw: 300, seed: 7 + 7919 },
  { id: 'edi', trainingNodes: 16, gridImportLimitKw: 200, seed: 7 + 2 * 7919 },
] as const;

/** GPU-hours the site's own FIFO scheduler runs in the day, over what its training pool could run. */
const fifoBusy = async (s: (typeof SITES)[number], jobs = siteDay({ profile: 'busy', site: s.id, dayStart, ...s })) => {
  const power = profilePower('busy');
  const twin = new SimCluster(
    { site: s.id, region: 'GB', gridImportLimitKw: s.gridImportLimitKw, trainingNodes: s.trainingNodes, power },
    dayStart,
    jobs.inferenceKw,
  );
  twin.submit(jobs.jobs);
  twin.advanceTo(epochMs(dayStart + DAY_MS));
  const grid = { start: dayStart, slotMinutes: 30, slots: 48 };
  const imported = await twin.importKw(grid);
  const base = twin.baseLoadKw(grid);
  // IT power above the inflexible base is busy training GPUs, each drawing gpuMarginalKw (src/sim/power.ts).
  const gpuHours = imported.reduce(
    (a, kw, i) => a + ((kw / twin.pue - (base[i] ?? 0)) / gpuMarginalKw(power)) * 0.5,
    0,
  );
  return gpuHours / (twin.totalGpus * 24);
};

test('busy (the default): each demo site is asked for at least 85 % of its GPU-hours, and FIFO keeps it that busy', async (t) => {
  for (const s of SITES) {
    const day = siteDay({ profile: 'busy', site: s.id, dayStart, ...s });
    const asked = offeredLoad(day.jobs, s.trainingNodes * 8);
    const run = await fifoBusy(s, day);
    t.diagnostic(
      `${s.id}: ${day.jobs.length} jobs ask for ${(asked * 100).toFixed(1)} % of ${s.trainingNodes * 8} GPUs × 24 h; FIFO runs ${(run * 100).toFixed(1)} % of them in the day`,
    );
    assert.ok(asked >= 0.85, `${s.id}: ${asked} of the GPU-hours asked for`);
    // The last job drawn can overshoot the target by at most one 64-GPU, 6-hour job.
    assert.ok(asked <= BUSY_OFFERED_LOAD + (64 * 6) / (s.trainingNodes * 8 * 24) + 1e-9, `${s.id}: ${asked}`);
    assert.ok(run >= 0.85, `${s.id}: FIFO ran ${run} of the GPU-hours in the day`);
    for (const j of day.jobs) {
      assert.ok(Math.abs(j.powerKw - j.gpus * gpuMarginalKw(DGX_A100_NODE)) < 1e-9, `${j.id}: a DGX A100 job`);
      // Slack stays: at least 4 h beyond the run time (deadlines stop at the end of the next day).
      const hours = j.work / j.gpus;
      assert.ok(j.deadlineAt >= Math.min(j.releaseAt + (hours + 4) * 3_600_000, dayStart + 2 * DAY_MS) - 1, j.id);
    }
  }
  // Over many seeds, not only the demo's: the day is drawn until the target is reached.
  const loads = Array.from({ length: 30 }, (_, seed) =>
    offeredLoad(siteDay({ profile: 'busy', seed, site: 'lon', dayStart, trainingNodes: 32 }).jobs, 256),
  );
  t.diagnostic(
    `lon, seeds 0–29: ${(Math.min(...loads) * 100).toFixed(1)}–${(Math.max(...loads) * 100).toFixed(1)} % asked for`,
  );
  assert.ok(Math.min(...loads) >= 0.85);
});

test('busy with --jobs N: exactly N jobs from the busy distributions, so the load follows N', () => {
  const few = siteDay({ profile: 'busy', seed: 7, site: 'lon', dayStart, trainingNodes: 32, jobs: 20 });
  const many = siteDay({ profile: 'busy', seed: 7, site: 'lon', dayStart, trainingNodes: 32, jobs: 150 });
  assert.equal(few.jobs.length, 20);
  assert.equal(many.jobs.length, 150);
  assert.ok(offeredLoad(few.jobs, 256) < 0.85 && offeredLoad(many.jobs, 256) > 1.5);
});

test('half-idle: the same jobs for the same seed as the demo before site profiles', () => {
  // sha256 of JSON.stringify(generateDay({seed, site, dayStart, jobs, gpuMix: 'training'})) as
  // src/compose/agent.ts made it at commit 61eed41, before site profiles.
  const before: [string, number, number | undefined, string][] = [
    ['lon', 7, undefined, 'd42073f4cfa2fcf9a0cc364797db1dd05985ae8f713b7e0f75c7e5ec44fd5c64'],
    ['man', 7926, undefined, 'ed3f7211a649546eccb58751017faa834364ffdd875c35d5edbd4cbb3b034485'],
    ['lon', 7, 150, 'a353279e88b0b975ed4cc2b2d2b3691451c035f2fd50a119fdf4ee3f833386d7'],
  ];
  for (const [site, seed, jobs, sha] of before) {
    const day = siteDay({ profile: 'half-idle', seed, site, dayStart, trainingNodes: 32, jobs });
    assert.equal(createHash('sha256').update(JSON.stringify(day)).digest('hex'), sha, `${site} seed ${seed}`);
  }
  assert.equal(profilePower('half-idle'), A100_SXM_NODE);
  const lon = siteDay({ profile: 'half-idle', seed: 7, site: 'lon', dayStart, trainingNodes: 32 });
  assert.equal(lon.jobs.length, 36);
  assert.ok(offeredLoad(lon.jobs, 256) < 0.6, 'about half the GPU-hours asked for');
});

test('node power from datasheets: DGX A100 at 6.5 kW with its GPUs at TDP, DGX H100 at the measured 8.4 kW', () => {
  const atTdp = (p: typeof DGX_A100_NODE) => nodeIdleKw(p) + p.gpusPerNode * gpuMarginalKw(p, p.gpuTdpW);
  assert.ok(Math.abs(atTdp(DGX_A100_NODE) - 6.5) < 1e-9);
  assert.ok(Math.abs(nodeMaxKw(DGX_A100_NODE) - 6.236) < 0.001, `${nodeMaxKw(DGX_A100_NODE)}`);
  assert.ok(Math.abs(nodeMaxKw(DGX_H100_NODE) - 8.4) < 1e-9);
  assert.ok(nodeMaxKw(A100_SXM_NODE) < 4, 'the half-idle node stays at its old 3.9 kW');
});

test('config: busy and the FIFO carbon cap by default; a bad profile is refused by name', () => {
  const c = demoConfig({ dataDir: '/tmp/x' });
  assert.equal(c.siteProfile, 'busy');
  assert.equal(c.carbonCap, 'fifo');
  assert.equal(c.jobs, undefined);
  assert.equal(demoConfig({ dataDir: '/tmp/x', carbonCap: 'none' }).carbonCap, 'none');
  assert.equal(demoConfig({ dataDir: '/tmp/x', siteProfile: 'half-idle' }).siteProfile, 'half-idle');
  assert.throws(
    () => demoConfig({ dataDir: '/tmp/x', siteProfile: 'idle' }),
    (e: unknown) => e instanceof FlexError && e.code === 'FLX_CONFIG_INVALID' && e.path === '--site-profile',
  );

  const dir = mkdtempSync(join(tmpdir(), 'flexlon-site-profile-'));
  try {
    const agent = (scheduler: Record<string, unknown>) => {
      const c = JSON.parse(readFileSync(join(projectRoot, 'docs', 'examples', 'run', 'agent.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      c.scheduler = scheduler;
      const file = join(dir, 'agent.json');
      writeFileSync(file, JSON.stringify(c));
      return readAgent(ConfigReader.load(file)).scheduler;
    };
    assert.deepEqual(agent({ kind: 'sim', seed: 7, trainingNodes: 32 }), {
      kind: 'sim',
      profile: 'busy',
      seed: 7,
      trainingNodes: 32,
      baseline: 'fifo',
    });
    assert.deepEqual(agent({ kind: 'sim', profile: 'half-idle', jobs: 36 }), {
      kind: 'sim',
      profile: 'half-idle',
      seed: 7,
      jobs: 36,
      trainingNodes: 32,
      baseline: 'fifo',
    });
    assert.throws(
      () => agent({ kind: 'sim', profile: 'idle' }),
      (e: unknown) =>
        e instanceof FlexError &&
        e.code === 'FLX_CONFIG_INVALID' &&
        e.path === 'scheduler.profile' &&
        /busy, half-idle/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a busy clock-change day asks for its fill of the 23 or 25 hours it has, and says so', () => {
  for (const { date, start, hours } of CLOCK_CHANGE_DAYS) {
    const jobs = siteDay({ profile: 'busy', seed: 1, site: 'lon', dayStart: start, trainingNodes: 32 }).jobs;
    const load = offeredLoad(jobs, 256, start);
    assert.ok(load >= BUSY_OFFERED_LOAD && load < BUSY_OFFERED_LOAD + 0.05, `${date}: ${load}`);
    // Read over 24 hours, as the usage line did, the spring day looked less busy and the autumn one more.
    assert.ok(Math.abs(offeredLoad(jobs, 256) - (load * hours) / 24) < 1e-9, date);
  }
  // An ordinary day reads the same either way.
  const day = siteDay({ profile: 'busy', seed: 1, site: 'lon', dayStart, trainingNodes: 32 }).jobs;
  assert.equal(offeredLoad(day, 256, dayStart), offeredLoad(day, 256));
});
