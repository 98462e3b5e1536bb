// Fits the simulated cluster's parameters on the public traces and prints src/sim/calibration.ts.
// The traces are read from where they lie and never copied into the project (the Alibaba 2023
// trace is for research use only; only these summary statistics are shipped).
//
//   node --import tsx scripts/fit-traces.ts [--traces DIR] > src/sim/calibration.ts
//
// DIR defaults to ../shared/traces and must hold alibaba-gpu-v2023-openb/, azure-llm-inference-2023/
// and emerald-ai-phoenix-2025/ as described in its SOURCES.md.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const root = resolve(arg('--traces') ?? join(import.meta.dirname, '..', '..', 'shared', 'traces'));

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
const fitPowerCap = () => {
  const rows = csv(join(root, 'emerald-ai-phoenix-2025', 'dvfs_sweep.csv'));
  const caps = [...new Set(rows.map((r) => Number(r['GPU power cap'])))].sort((a, b) => a - b);
  const cls = (w: string) => (w.startsWith('infer') ? 'inference' : 'training');
  const curve = (c: string) => ({
    throughput: caps.map((cap) => r4(mean(rows.filter((r) => cls(r.Workload ?? '') === c && Number(r['GPU power cap']) === cap).map((r) => Number(r['normalized throughput']))))),
    drawW: caps.map((cap) => r4(mean(rows.filter((r) => cls(r.Workload ?? '') === c && Number(r['GPU power cap']) === cap).map((r) => Number(r['power per GPU']))))),
  });
  return { capW: caps, training: curve('training'), inference: curve('inference'), workloads: new Set(rows.map((r) => r.Workload)).size };
};

/** Alibaba GPU 2023 (openb) pods: per QoS class, GPU counts, log-normal run time, arrivals by hour. */
const fitAlibaba = () => {
  const rows = csv(join(root, 'alibaba-gpu-v2023-openb', 'openb_pod_list_default.csv'));
  const spanDays = (Math.max(...rows.map((r) => Number(r.creation_time))) - Math.min(...rows.map((r) => Number(r.creation_time)))) / 86_400;
  const qos = (q: string) => {
    const rs = rows.filter((r) => r.qos === q);
    const gpus = new Map<number, number>();
    for (const r of rs) gpus.set(Number(r.num_gpu), (gpus.get(Number(r.num_gpu)) ?? 0) + 1);
    // Run time = scheduled → deleted; pods never scheduled (scheduled_time 0 after creation) are left out.
    const hours = rs.filter((r) => Number(r.scheduled_time) > 0 && Number(r.deletion_time) > Number(r.scheduled_time))
      .map((r) => (Number(r.deletion_time) - Number(r.scheduled_time)) / 3600);
    const logs = hours.map(Math.log);
    const mu = mean(logs);
    const sigma = Math.sqrt(mean(logs.map((x) => (x - mu) ** 2)));
    const byHour = Array.from({ length: 24 }, () => 0);
    for (const r of rs) byHour[Math.floor(Number(r.creation_time) / 3600) % 24]! += 1;
    return {
      pods: rs.length, podsPerDay: r4(rs.length / spanDays),
      gpuCounts: [...gpus.entries()].sort((a, b) => a[0] - b[0]),
      fractionalGpuShare: r4(rs.filter((r) => Number(r.num_gpu) === 1 && Number(r.gpu_milli) < 1000).length / rs.length),
      runHours: { logMean: r4(mu), logSd: r4(sigma), p50: r4(quantile(hours, 0.5)), p90: r4(quantile(hours, 0.9)), n: hours.length },
      arrivalsByHour: byHour,
    };
  };
  return { spanDays: r4(spanDays), latencySensitive: qos('LS'), bestEffort: qos('BE') };
};

/** Azure LLM inference 2023: request rate, its burstiness over 5-minute bins, and tokens per request. */
const fitAzure = () => {
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
      requests: rows.length, requestsPerSecond: r4(rows.length / seconds), fiveMinuteCv: r4(Math.sqrt(mean(counts.map((c) => (c - m) ** 2))) / m),
      contextTokens: { mean: r4(mean(ctx)), p50: quantile(ctx, 0.5) }, generatedTokens: { mean: r4(mean(gen)), p50: quantile(gen, 0.5) },
    };
  };
  return { code: one('AzureLLMInferenceTrace_code.csv'), conv: one('AzureLLMInferenceTrace_conv.csv') };
};

const fitted = { powerCap: fitPowerCap(), alibaba: fitAlibaba(), azure: fitAzure() };
process.stdout.write(`// GENERATED by scripts/fit-traces.ts from the public traces (see shared traces/SOURCES.md); do not edit.
// Regenerate: node --import tsx scripts/fit-traces.ts --traces <dir> > src/sim/calibration.ts
// Only summary statistics are here; the traces themselves are not shipped (Alibaba 2023: research use only).
// Sources: Emerald AI Phoenix dvfs_sweep.csv (Apache-2.0, Colangelo et al. arXiv 2507.00909);
// Alibaba clusterdata cluster-trace-gpu-v2023 openb pods (Weng et al., USENIX ATC 2023);
// Azure LLM inference trace 2023 (CC-BY 4.0, Patel et al., "Splitwise", ISCA 2024).
export const CALIBRATION = ${JSON.stringify(fitted, null, 2)} as const;
`);
