// `flexlon backtest --workload alibaba:PATH`: a day's jobs drawn from an Alibaba GPU 2023 (openb)
// pod list, on a hand-written list (every figure worked out on paper) and on the real trace in the
// shared folder, read in place; and the backtest end to end on it.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { alibabaDay, GROUP_MAX_GPUS, readAlibabaTrace } from '../../src/sim/alibaba-pods.ts';
import { DGX_A100_NODE, jobPowerKw } from '../../src/sim/power.ts';
import { sharedPath } from '../helpers/shared.ts';
import { tmp } from './fixtures.ts';

const HEAD =
  'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time';

const cli = async (args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['backtest', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

const DAY_START = Date.UTC(2023, 1, 1);

describe('Alibaba pods as a backtest workload', () => {
  it('reads the pods that asked for GPUs and ran, and draws a day of grouped jobs at the fill asked', () => {
    const dir = tmp();
    const file = join(dir, 'pods.csv');
    writeFileSync(
      file,
      [
        HEAD,
        // BE, 1 GPU (a 0.5 share counts whole), created 10:05 on the trace's second day, ran 2 h.
        'p1,1000,1024,1,500,,BE,Succeeded,122700,129900,122700',
        // LS, 2 GPUs, created 10:20, ran 30 h: capped at 24 h.
        'p2,1000,1024,2,1000,,LS,Running,37200,145200,37200',
        // No GPU; never scheduled; deleted before scheduled: all left out.
        'p3,1000,1024,0,0,,BE,Succeeded,100,200,100',
        'p4,1000,1024,1,1000,,BE,Pending,100,,',
        'p5,1000,1024,1,1000,,BE,Failed,100,50,100',
        // More GPUs than a site may have (at least 64): left out, counted.
        'p6,1000,1024,100,1000,,BE,Succeeded,100,7300,100',
      ].join('\n'),
    );
    const t = readAlibabaTrace(file);
    assert.equal(t.rows, 6);
    assert.equal(t.skipped, 4);
    assert.equal(t.tooLarge, 1);
    assert.deepEqual(t.pods, [
      { gpus: 1, hours: 2, secondOfDay: 10 * 3600 + 300, bestEffort: true },
      { gpus: 2, hours: 24, secondOfDay: 10 * 3600 + 1200, bestEffort: false },
    ]);
    // A 16-GPU pool at fill 0.5 asks for 192 GPU-hours: drawn until the pods reach it.
    const options = { seed: 4, site: 'edi', dayStart: DAY_START, trainingGpus: 16, fill: 0.5, power: DGX_A100_NODE };
    const jobs = alibabaDay(t, options);
    const gpuHours = jobs.reduce((a, j) => a + (j.work ?? 0), 0);
    assert.ok(gpuHours >= 192 && gpuHours < 192 + 48, String(gpuHours));
    for (const j of jobs) {
      const be = j.name.startsWith('be');
      assert.ok(j.gpus <= GROUP_MAX_GPUS);
      assert.equal(j.powerKw, jobPowerKw(DGX_A100_NODE, j.gpus));
      // Groups keep their pods' run: 2 h BE pods or 24 h LS pods side by side.
      const hours = j.energyKwh / j.powerKw;
      assert.ok(Math.abs(hours - (be ? 2 : 24)) < 1e-9, `${j.name} runs ${hours} h`);
      assert.ok(Math.abs((j.work ?? 0) - j.gpus * hours) < 1e-9);
      // Submitted with the group's last pod, at its time of day; BE gets 4–16 h of slack, LS must
      // start at the next decision (10:30, 10 minutes on) and is due when its run then ends (10:30
      // the next day: 24 h on, a whole number of periods).
      assert.equal(j.submittedAt, DAY_START + (be ? 10 * 3600 + 300 : 10 * 3600 + 1200) * 1000);
      const slackH = (j.deadlineAt - j.submittedAt) / 3_600_000 - hours;
      if (be) assert.ok(slackH >= 4 && slackH <= 16, String(slackH));
      else assert.equal(j.deadlineAt, DAY_START + (10.5 + 24) * 3_600_000);
    }
    // The same options give the same day.
    assert.deepEqual(alibabaDay(t, options), jobs);
  });

  it("keeps a clock-change day's jobs within its 23 hours, and refuses pods too short to fill a day", () => {
    const dir = tmp();
    const file = join(dir, 'pods.csv');
    // One 2-GPU BE pod created at 23:30 of the trace's day, running 1 h.
    writeFileSync(file, `${HEAD}\np1,1000,1024,2,1000,,BE,Running,84600,88200,84600\n`);
    const t = readAlibabaTrace(file);
    // 2023-03-26 (UK clocks go forward) is 23 hours long, 00:00 UTC to 23:00 UTC.
    const spring = Date.UTC(2023, 2, 26);
    const o = { seed: 1, site: 'edi', dayStart: spring, trainingGpus: 64, fill: 0.1, power: DGX_A100_NODE };
    const jobs = alibabaDay(t, o);
    assert.ok(jobs.length > 0);
    for (const j of jobs) assert.equal(j.submittedAt, spring + 30 * 60_000, 'wrapped into the day: 00:30 UTC');
    // The next settlement day starts at 23:00 UTC on the 26th (UK midnight in summer time): its jobs
    // carry its own UK date, not the UTC date of its start, which the day before already used.
    const next = alibabaDay(t, { ...o, dayStart: spring + 23 * 3_600_000 });
    assert.ok(
      jobs.every((j) => j.id.startsWith('edi-2023-03-26-')),
      jobs[0]?.id,
    );
    assert.ok(next.length > 0 && next.every((j) => j.id.startsWith('edi-2023-03-27-')), next[0]?.id);
    // A pod of one second: about 550,000 of them to fill 64 GPUs at 10 %.
    writeFileSync(file, `${HEAD}\np1,1000,1024,1,1000,,BE,Running,100,101,100\n`);
    assert.throws(
      () => alibabaDay(readAlibabaTrace(file), o),
      (e: Error & { code?: string }) => e.code === 'FLX_CONFIG_INVALID' && /too short to fill site edi/.test(e.message),
    );
  });

  it('draws a busy 256-GPU day from the real trace in a few hundred jobs', () => {
    const t = readAlibabaTrace(sharedPath('traces', 'alibaba-gpu-v2023-openb'));
    // 8,152 pods: 7,064 ask for GPUs, 6,203 of them ran (scheduled, then deleted).
    assert.equal(t.rows, 8152);
    assert.equal(t.pods.length, 6203);
    const jobs = alibabaDay(t, {
      seed: 1,
      site: 'lon',
      dayStart: DAY_START,
      trainingGpus: 256,
      fill: 0.85,
      power: DGX_A100_NODE,
    });
    const gpuHours = jobs.reduce((a, j) => a + (j.work ?? 0), 0);
    assert.ok(gpuHours >= 0.85 * 256 * 24 && gpuHours < 0.85 * 256 * 24 + 64 * 24, String(gpuHours));
    assert.ok(jobs.length > 100 && jobs.length < 1500, String(jobs.length));
    assert.ok(jobs.every((j) => j.submittedAt >= DAY_START && j.submittedAt < DAY_START + 86_400_000));
  });

  it('runs a backtest on it, and refuses a file that is not a pod list', async () => {
    const dir = tmp();
    const out = join(dir, 'out');
    const r = await cli([
      '--from',
      '2023-02-01',
      '--to',
      '2023-02-01',
      '--sites',
      'edi',
      '--workload',
      `alibaba:${sharedPath('traces', 'alibaba-gpu-v2023-openb')}`,
      '--strategies',
      'fifo,flexlon',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.err);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      run: { workload: string };
      strategies: Record<string, { gpuHours: number; slo: { jobsFinished: number; jobsOpenAtEnd: number } }>;
    };
    assert.match(results.run.workload, /^alibaba:.*openb_pod_list_default\.csv \(6203 pods of 8152\)$/);
    // edi's 128 GPUs at 85 %: at least 2,611 GPU-hours asked for, all run by the end of the drain days.
    for (const s of Object.values(results.strategies)) {
      assert.equal(s.slo.jobsOpenAtEnd, 0);
      assert.ok(s.gpuHours >= 0.85 * 128 * 24, String(s.gpuHours));
    }
    const bad = join(dir, 'not-pods.csv');
    writeFileSync(bad, 'a,b,c\n1,2,3\n');
    for (const [arg, message] of [
      [
        `alibaba:${bad}`,
        /FLX_CONFIG_INVALID.*its header lacks num_gpu, qos, creation_time, scheduled_time, deletion_time/,
      ],
      [`alibaba:${join(dir, 'none')}`, /FLX_CONFIG_INVALID.*cannot be read/],
      ['philly', /FLX_CLI_USAGE.*--workload must be synthetic or alibaba:PATH/],
    ] as const) {
      const e = await cli(['--from', '2023-02-01', '--to', '2023-02-01', '--workload', arg, '--out', join(dir, 'o2')]);
      assert.equal(e.code, 2, arg);
      assert.match(e.err, message);
      assert.doesNotMatch(e.err, /at .*\.ts:\d+/);
    }
  });
});
