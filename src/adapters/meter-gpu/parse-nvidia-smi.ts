// Parsers for what nvidia-smi prints, as pure functions of the text: the CSV of `--query-gpu`
// (with or without its header and units), the XML of `-q -x`, and the text of `-q -d POWER`. Each
// answers per GPU in watts, or throws FLX_METER_INVALID naming the source (e.g. "nvidia-smi on
// gpu01") and what was expected. Tested on real output: ../shared/traces/h200-duty-cycle-2026-12.
import { FlexError } from '../../errors.ts';

/** One GPU's power, in watts as nvidia-smi prints them. Limits are absent where not queried or `[N/A]`. */
export interface GpuPower {
  /** nvidia-smi's index (or the order printed, where the index is not queried). */
  readonly index: number;
  readonly uuid?: string;
  readonly name?: string;
  /** power.draw: the board's draw (on recent drivers a 1 s average), W. */
  readonly powerDrawW: number;
  /** power.limit: the limit enforced now, W. */
  readonly powerLimitW?: number;
  readonly defaultLimitW?: number;
  readonly minLimitW?: number;
  readonly maxLimitW?: number;
}

/** The fields FlexLon's meter asks for, in this order (`--format=csv,noheader,nounits`). */
export const METER_QUERY_FIELDS = ['index', 'uuid', 'power.draw', 'power.limit'] as const;

/** How nvidia-smi writes a value it has not got: `[N/A]`, `N/A`, `[Not Supported]`, `[Unknown Error]`, … */
const MISSING = /^\[.*\]$|^N\/A$/;
/** A header cell: a lowercase field name, with its unit in brackets when `nounits` is not given. */
const HEADER_CELL = /^([a-z][a-z0-9_.]*)(?: \[[^\]]+\])?$/;
/** A number with the unit nvidia-smi appends when `nounits` is not given ("700.00 W", "39 %", "345 MHz"). */
const WITH_UNIT = /^(-?\d+(?:\.\d+)?)(?: [A-Za-z%]+)?$/;

const excerpt = (s: string): string => JSON.stringify(s.length > 120 ? `${s.slice(0, 120)}…` : s);

const invalid = (source: string, detail: string): never => {
  throw new FlexError('FLX_METER_INVALID', `${source}: ${detail}`);
};

/** A value as a string (units stripped from numbers); undefined where nvidia-smi has none. */
const cellValue = (raw: string): string | undefined => {
  const v = raw.trim();
  if (v === '' || MISSING.test(v)) return undefined;
  return WITH_UNIT.exec(v)?.[1] ?? v;
};

/**
 * The rows of `nvidia-smi --query-gpu=FIELDS --format=csv[,noheader][,nounits]`, one record per GPU
 * keyed by field name. With a header, its names are used (and must include `fields`); without one,
 * `fields` names the columns, and each line must have exactly that many.
 */
export const parseQueryCsv = (
  text: string,
  fields: readonly string[],
  source = 'nvidia-smi',
): Array<Record<string, string | undefined>> => {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (lines.length === 0)
    invalid(source, `printed nothing where one CSV line per GPU (${fields.join(', ')}) was expected`);
  const first = (lines[0] ?? '').split(',').map((c) => c.trim());
  const header = first.every((c) => HEADER_CELL.test(c)) ? first.map((c) => HEADER_CELL.exec(c)?.[1] ?? c) : undefined;
  const names = header ?? fields;
  const missing = fields.filter((f) => !names.includes(f));
  if (missing.length > 0)
    invalid(
      source,
      `the CSV header ${excerpt(lines[0] ?? '')} lacks ${missing.join(', ')}; expected ${fields.join(', ')}`,
    );
  const rows = header ? lines.slice(1) : lines;
  return rows.map((line) => {
    const cells = line.split(',');
    if (cells.length !== names.length)
      invalid(
        source,
        `printed ${excerpt(line)} where ${names.length} comma-separated values (${names.join(', ')}) were expected`,
      );
    return Object.fromEntries(names.map((n, k) => [n, cellValue(cells[k] ?? '')]));
  });
};

const watts = (source: string, what: string, v: string | undefined, required: boolean): number | undefined => {
  if (v === undefined)
    return required
      ? invalid(source, `${what} is not available (nvidia-smi printed [N/A]); this GPU does not report its power`)
      : undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) invalid(source, `${what} is ${excerpt(v)}, expected watts (a number ≥ 0)`);
  return n;
};

/** The GPUs' power from `--query-gpu` CSV rows (parseQueryCsv); power.draw is required of every GPU. */
export const gpuPowerFromQuery = (
  rows: ReadonlyArray<Record<string, string | undefined>>,
  source = 'nvidia-smi',
): GpuPower[] =>
  rows.map((r, k) => {
    const at = `${source}, GPU ${r.index ?? k}`;
    const index = r.index === undefined ? k : Number(r.index);
    if (!Number.isInteger(index) || index < 0)
      invalid(at, `index is ${excerpt(String(r.index))}, expected a whole number`);
    const opt = (field: string): number | undefined => watts(at, field, r[field], false);
    const out: GpuPower = {
      index,
      powerDrawW: watts(at, 'power.draw', r['power.draw'], true) ?? NaN,
      ...(r.uuid !== undefined ? { uuid: r.uuid } : {}),
      ...(r.name !== undefined ? { name: r.name } : {}),
    };
    const limits = {
      powerLimitW: opt('power.limit'),
      defaultLimitW: opt('power.default_limit'),
      minLimitW: opt('power.min_limit'),
      maxLimitW: opt('power.max_limit'),
    };
    return { ...out, ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) };
  });

/** `nvidia-smi --query-gpu=index,uuid,power.draw,power.limit --format=csv,noheader,nounits`, parsed. */
export const parseMeterQuery = (text: string, source = 'nvidia-smi'): GpuPower[] =>
  gpuPowerFromQuery(parseQueryCsv(text, METER_QUERY_FIELDS, source), source);

/** One sample of `--query-gpu=timestamp,power.draw,… --format=csv -lms N` (a power trace). */
export interface TimedPower {
  /** Epoch ms; nvidia-smi prints the machine's local time, taken here as UTC (`TZ=UTC` on the node). */
  readonly at: number;
  readonly powerDrawW: number;
}

const TIMESTAMP = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;

/** A power trace logged by nvidia-smi (`timestamp` and `power.draw` columns, header included). */
export const parsePowerTrace = (text: string, source = 'nvidia-smi trace'): TimedPower[] =>
  parseQueryCsv(text, ['timestamp', 'power.draw'], source).map((r, k) => {
    const m = TIMESTAMP.exec(r.timestamp ?? '');
    if (!m)
      return invalid(
        `${source}, line ${k + 2}`,
        `timestamp is ${excerpt(String(r.timestamp))}, expected YYYY/MM/DD hh:mm:ss.mmm`,
      );
    const n = (i: number) => Number(m[i] ?? '0');
    const at = Date.UTC(n(1), n(2) - 1, n(3), n(4), n(5), n(6), Number((m[7] ?? '').padEnd(3, '0')));
    return { at, powerDrawW: watts(`${source}, line ${k + 2}`, 'power.draw', r['power.draw'], true) ?? NaN };
  });

const tag = (xml: string, name: string): string | undefined => {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return m ? cellValue(m[1] ?? '') : undefined;
};

/**
 * `nvidia-smi -q -x`: each <gpu>'s <gpu_power_readings> (drivers ≥ 530; older ones have <power_readings>
 * with <power_draw>). The draw is the instantaneous one where given, else the average.
 */
export const parseQueryXml = (xml: string, source = 'nvidia-smi -q -x'): GpuPower[] => {
  if (!xml.includes('<nvidia_smi_log>'))
    invalid(source, `printed ${excerpt(xml.trim())} where <nvidia_smi_log> XML was expected`);
  // Each <gpu id="…"> runs to the next one (or the end): no element inside a gpu is named gpu.
  const gpus = xml.split('<gpu id="').slice(1);
  return gpus.map((chunk, k) => {
    const id = chunk.slice(0, chunk.indexOf('"'));
    const body = chunk;
    const at = `${source}, GPU ${id || k}`;
    const block =
      /<gpu_power_readings>([\s\S]*?)<\/gpu_power_readings>/.exec(body)?.[1] ??
      /<power_readings>([\s\S]*?)<\/power_readings>/.exec(body)?.[1];
    if (block === undefined) return invalid(at, 'has no <gpu_power_readings> (or <power_readings>) element');
    const draw = tag(block, 'instant_power_draw') ?? tag(block, 'average_power_draw') ?? tag(block, 'power_draw');
    const minor = tag(body, 'minor_number');
    const uuid = tag(body, 'uuid');
    const name = tag(body, 'product_name');
    const opt = (t: string) => watts(at, t, tag(block, t), false);
    const limits = {
      powerLimitW: opt('current_power_limit') ?? opt('enforced_power_limit'),
      defaultLimitW: opt('default_power_limit'),
      minLimitW: opt('min_power_limit'),
      maxLimitW: opt('max_power_limit'),
    };
    return {
      index: minor !== undefined && /^\d+$/.test(minor) ? Number(minor) : k,
      powerDrawW: watts(at, 'power draw', draw, true) ?? NaN,
      ...(uuid !== undefined ? { uuid } : {}),
      ...(name !== undefined ? { name } : {}),
      ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
    };
  });
};

/**
 * `nvidia-smi -q -d POWER` (text): per "GPU <bus id>" section, the lines of its "GPU Power Readings"
 * block (older drivers: "Power Readings", with "Power Draw").
 */
export const parsePowerText = (text: string, source = 'nvidia-smi -q -d POWER'): GpuPower[] => {
  const sections = text.split(/^GPU (?=[0-9A-Fa-f]{4,8}:)/m).slice(1);
  if (sections.length === 0)
    invalid(source, `printed ${excerpt(text.trim())} where "GPU <bus id>" sections were expected`);
  return sections.map((sec, k) => {
    const at = `${source}, GPU ${sec.split('\n')[0]?.trim() ?? k}`;
    const block = /^ {4}(?:GPU )?Power Readings\n((?: {8}.*\n?)*)/m.exec(sec)?.[1];
    if (block === undefined) return invalid(at, 'has no "GPU Power Readings" block');
    const line = (label: string): string | undefined => {
      const m = new RegExp(`^\\s+${label}\\s+:\\s*(.*)$`, 'm').exec(block);
      return m ? cellValue(m[1] ?? '') : undefined;
    };
    const opt = (label: string) => watts(at, label, line(label), false);
    const limits = {
      powerLimitW: opt('Current Power Limit') ?? opt('Enforced Power Limit'),
      defaultLimitW: opt('Default Power Limit'),
      minLimitW: opt('Min Power Limit'),
      maxLimitW: opt('Max Power Limit'),
    };
    const draw = line('Instantaneous Power Draw') ?? line('Average Power Draw') ?? line('Power Draw');
    return {
      index: k,
      powerDrawW: watts(at, 'power draw', draw, true) ?? NaN,
      ...Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
    };
  });
};
