// Parser for a DCGM exporter's Prometheus text endpoint (dcgm-exporter, `/metrics`): the gauge
// DCGM_FI_DEV_POWER_USAGE (W, one sample per GPU, labelled gpu, UUID, modelName and Hostname) and,
// where the counters file enables it, DCGM_FI_DEV_POWER_MGMT_LIMIT (W). Pure: text in, GPUs per host out.
import { FlexError } from '../../errors.ts';
import type { GpuPower } from './parse-nvidia-smi.ts';

export const DCGM_POWER = 'DCGM_FI_DEV_POWER_USAGE';
export const DCGM_LIMIT = 'DCGM_FI_DEV_POWER_MGMT_LIMIT';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Prometheus text exposition format 0.0.4: `name{label="v",…} value [timestamp]`. */
const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;

const unescape = (v: string): string => v.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));

const labelsOf = (text: string, source: string, line: string): Record<string, string> => {
  const out: Record<string, string> = {};
  LABEL.lastIndex = 0;
  let end = 0;
  for (let m = LABEL.exec(text); m; m = LABEL.exec(text)) {
    out[m[1] ?? ''] = unescape(m[2] ?? '');
    end = LABEL.lastIndex;
  }
  if (text.slice(end).trim() !== '')
    throw new FlexError('FLX_METER_INVALID', `${source}: cannot read the labels of ${JSON.stringify(line)}`);
  return out;
};

const samplesOf = (text: string, names: ReadonlySet<string>, source: string): Sample[] => {
  const out: Sample[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) throw new FlexError('FLX_METER_INVALID', `${source}: ${JSON.stringify(line)} is not a Prometheus sample`);
    const name = m[1] ?? '';
    if (!names.has(name)) continue;
    const value = Number(m[3]);
    out.push({ name, labels: labelsOf(m[2] ?? '', source, line), value });
  }
  return out;
};

/**
 * The GPUs' power per host from a DCGM exporter's metrics text, keyed by the `hostLabel` label
 * (dcgm-exporter's `Hostname`). A sample without that label, or whose value is not watts ≥ 0, is
 * FLX_METER_INVALID; a text with no DCGM_FI_DEV_POWER_USAGE at all is too (the counter is off).
 */
export const parseDcgmMetrics = (
  text: string,
  source = 'DCGM exporter',
  hostLabel = 'Hostname',
): Map<string, GpuPower[]> => {
  const samples = samplesOf(text, new Set([DCGM_POWER, DCGM_LIMIT]), source);
  const power = samples.filter((s) => s.name === DCGM_POWER);
  if (power.length === 0)
    throw new FlexError(
      'FLX_METER_INVALID',
      `${source}: no ${DCGM_POWER} samples; expected one per GPU (is the counter enabled in the exporter's counters file?)`,
    );
  const key = (s: Sample) => `${s.labels[hostLabel] ?? ''}|${s.labels.gpu ?? ''}`;
  const limits = new Map(samples.filter((s) => s.name === DCGM_LIMIT).map((s) => [key(s), s.value]));
  const hosts = new Map<string, GpuPower[]>();
  for (const s of power) {
    const host = s.labels[hostLabel];
    const gpu = Number(s.labels.gpu);
    const at = `${source}, ${DCGM_POWER}{${hostLabel}="${host ?? ''}",gpu="${s.labels.gpu ?? ''}"}`;
    if (host === undefined || host === '')
      throw new FlexError('FLX_METER_INVALID', `${at}: has no ${hostLabel} label; expected the node's name there`);
    if (!Number.isInteger(gpu) || gpu < 0)
      throw new FlexError('FLX_METER_INVALID', `${at}: the gpu label is not a GPU index`);
    if (!Number.isFinite(s.value) || s.value < 0)
      throw new FlexError('FLX_METER_INVALID', `${at}: value ${s.value}, expected watts (a number ≥ 0)`);
    const limit = limits.get(key(s));
    const g: GpuPower = {
      index: gpu,
      powerDrawW: s.value,
      ...(s.labels.UUID ? { uuid: s.labels.UUID } : {}),
      ...(s.labels.modelName ? { name: s.labels.modelName } : {}),
      ...(limit !== undefined && Number.isFinite(limit) ? { powerLimitW: limit } : {}),
    };
    hosts.set(host, [...(hosts.get(host) ?? []), g]);
  }
  return hosts;
};
