// Fits the simulated cluster's parameters on the public traces, read from where they lie (they are
// never copied into the project: the Alibaba 2023 trace is for research use only). The shipped
// result is src/sim/calibration.ts (scripts/fit-traces.ts prints it); a run can also fit afresh
// from a directory given at run time.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const csv = (path: string): Record<string, string>[] => {
  const [head, ...lines] = readFileSync(path, 'utf8').trim().split(/\r?\n/);
  const cols = (head ?? '').split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i] ?? `c${i}`, v])));
};
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** Emerald AI Phoenix sweep: throughput and measured draw per GPU at each cap, averaged per workload class. */
const fitPowerCap = (root: string) => {
  const rows = csv(join(root, 'emerald-ai-phoenix-2025', 'dvfs_sweep.csv'));
  const caps = [...new Set(rows.map((r) => Number(r['GPU power cap'])))].sort((a, b) => a - b);
  const cls = (w: string) => (w.startsWith('infer') ? 'inference' : 'training');
  const curve = (c: string) => ({
    throughput: caps.map((cap) =>
      r4(
        mean(
          rows
            .filter((r) => cls(r.Workload ?? '') === c && Number(r['GPU power cap']) === cap)
            .map((r) => Number(r['normalized throughput'])),
        ),
      ),
    ),
    drawW: caps.map((cap) =>
      r4(
        mean(
          rows
            .filter((r) => cls(r.Workload ?? '') === c && Number(r['GPU power cap']) === cap)
            .map((r) => Number(r['power per GPU'])),
        ),
      ),
    ),
  });
  return {
    capW: caps,
    training: curve('training'),
    inference: curve('inference'),
    workloads: new Set(rows.map((r) => r.Workload)).size,
  };
};

/** Alibaba GPU 2023 (openb) pods: per QoS class, GPU counts, log-normal run time, arrivals by hour. */
const fitAlibaba = (root: string) => {
  const rows = csv(join(root, 'alibaba-gpu-v2023-openb', 'openb_pod_list_default.csv'));
  const spanDays =
    (Math.max(...rows.map((r) => Number(r.creation_time))) - Math.min(...rows.map((r) => Number(r.creation_time)))) /
    86_400;
  const qos = (q: string) => {
    const rs = rows.filter((r) => r.qos === q);
    const gpus = new Map<number, number>();
    for (const r of rs) gpus.set(Number(r.num_gpu), (gpus.get(Number(r.num_gpu)) ?? 0) + 1);
    // Run time = scheduled → deleted; pods never scheduled (scheduled_time 0 after creation) are left out.
    const hours = rs
      .filter((r) => Number(r.scheduled_time) > 0 && Number(r.deletion_time) > Number(r.scheduled_time))
      .map((r) => (Number(r.deletion_time) - Number(r.scheduled_time)) / 3600);
    const logs = hours.map(Math.log);
    const mu = mean(logs);
    const sigma = Math.sqrt(mean(logs.map((x) => (x - mu) ** 2)));
    const byHour = Array.from({ length: 24 }, () => 0);
    for (const r of rs) byHour[Math.floor(Number(r.creation_time) / 3600) % 24]! += 1;
    return {
      pods: rs.length,
      podsPerDay: r4(rs.length / spanDays),
      gpuCounts: [...gpus.entries()].sort((a, b) => a[0] - b[0]),
      fractionalGpuShare: r4(
        rs.filter((r) => Number(r.num_gpu) === 1 && Number(r.gpu_milli) < 1000).length / rs.length,
      ),
      runHours: {
        logMean: r4(mu),
        logSd: r4(sigma),
        p50: r4(quantile(hours, 0.5)),
        p90: r4(quantile(hours, 0.9)),
        n: hours.length,
      },
      arrivalsByHour: byHour,
    };
  };
  return { spanDays: r4(spanDays), latencySensitive: qos('LS'), bestEffort: qos('BE') };
};

/** Azure LLM inference 2023: request rate, its burstiness over 5-minute bins, and tokens per request. */
const fitAzure = (root: string) => {
  const one = (file: string) => {
    const rows = csv(join(root, 'azure-llm-inference-2023', file));
    const t = rows.map((r) => Date.parse(`${(r.TIMESTAMP ?? '').replace(' ', 'T').slice(0, 23)}Z`));
    const t0 = Math.min(...t);
    const seconds = (Math.max(...t) - t0) / 1000;
    const bins = new Map<number, number>();
    for (const x of t) bins.set(Math.floor((x - t0) / 300_000), (bins.get(Math.floor((x - t0) / 300_000)) ?? 0) + 1);
    const counts = [...bins.values()].slice(0, -1); // the last bin is partial
    const m = mean(counts);
    const ctx = rows.map((r) => Number(r.ContextTokens));
    const gen = rows.map((r) => Number(r.GeneratedTokens));
    return {
      requests: rows.length,
      requestsPerSecond: r4(rows.length / seconds),
      fiveMinuteCv: r4(Math.sqrt(mean(counts.map((c) => (c - m) ** 2))) / m),
      contextTokens: { mean: r4(mean(ctx)), p50: quantile(ctx, 0.5) },
      generatedTokens: { mean: r4(mean(gen)), p50: quantile(gen, 0.5) },
    };
  };
  return { code: one('AzureLLMInferenceTrace_code.csv'), conv: one('AzureLLMInferenceTrace_conv.csv') };
};

/** Every fitted parameter, from a traces directory laid out as shared/traces/SOURCES.md describes. */
export const fitTraces = (root: string) => ({
  powerCap: fitPowerCap(root),
  alibaba: fitAlibaba(root),
  azure: fitAzure(root),
});
export type Calibration = ReturnType<typeof fitTraces>;
