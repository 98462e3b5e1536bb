// Where GPU power comes from: nvidia-smi run on each node (through a command prefix such as
// `ssh -o BatchMode=yes {node} nvidia-smi`, or locally), or a DCGM exporter's /metrics. Commands run
// with execFile and an argument list (no shell on this side; the node name is checked to be a plain
// host name, and the arguments appended are fixed), each with a deadline. A failure is a FlexError
// for that node only: FLX_METER_UNAVAILABLE (could not ask) or FLX_METER_INVALID (the answer).
import { execFile } from 'node:child_process';
import { FlexError, asFlexError } from '../../errors.ts';
import { parseDcgmMetrics } from './parse-dcgm.ts';
import { METER_QUERY_FIELDS, parseMeterQuery, type GpuPower } from './parse-nvidia-smi.ts';

/** One node's answer to one poll. */
export type NodeRead =
  | { readonly node: string; readonly ok: true; readonly gpus: readonly GpuPower[] }
  | { readonly node: string; readonly ok: false; readonly error: FlexError };

export interface GpuPowerSource {
  /** What the readings are recorded as (MeterReading.source): `nvidia-smi` or `dcgm`. */
  readonly name: string;
  read(nodes: readonly string[]): Promise<NodeRead[]>;
}

/** A node name as it may appear in a command: a host name, no option dashes, no shell characters. */
export const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
/** Stands for the node's name in a command prefix or a DCGM URL. */
export const NODE_PLACEHOLDER = '{node}';

/** The arguments appended to the command prefix. */
export const NVIDIA_SMI_ARGS = [`--query-gpu=${METER_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];

const MAX_PARALLEL = 16;

const eachLimited = async <T, R>(items: readonly T[], fn: (x: T) => Promise<R>): Promise<R[]> => {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let k = next++; k < items.length; k = next++) out[k] = await fn(items[k] as T);
  };
  await Promise.all(Array.from({ length: Math.min(MAX_PARALLEL, items.length) }, worker));
  return out;
};

const tail = (s: string): string => {
  const t = s.trim();
  return t.length > 300 ? `…${t.slice(-300)}` : t;
};

export interface NvidiaSmiOptions {
  /**
   * The command up to and including nvidia-smi, `{node}` replaced by the node's name: e.g.
   * ["ssh", "-o", "BatchMode=yes", "{node}", "nvidia-smi"], or ["nvidia-smi"] on the node itself.
   */
  readonly command: readonly string[];
  readonly timeoutMs: number;
  readonly env?: Readonly<Record<string, string>>;
}

const runOnce = (node: string, o: NvidiaSmiOptions): Promise<string> => {
  const [file, ...prefix] = o.command.map((a) => a.split(NODE_PLACEHOLDER).join(node));
  if (file === undefined) throw new FlexError('FLX_METER_UNAVAILABLE', 'the nvidia-smi command is empty');
  const where = `nvidia-smi on ${node} (${[file, ...prefix].join(' ')})`;
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...prefix, ...NVIDIA_SMI_ARGS],
      {
        timeout: o.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 1 << 20,
        encoding: 'utf8',
        env: { ...process.env, ...o.env },
      },
      (e, stdout, stderr) => {
        if (!e) return resolve(stdout);
        const err = e as Error & { killed?: boolean; code?: string | number; signal?: string | null };
        const said = tail(stderr || stdout) || '(no message)';
        const why =
          err.code === 'ENOENT'
            ? `${file} not found: install the NVIDIA driver utilities (nvidia-smi) there, or set meter.command`
            : err.killed
              ? `no answer within ${o.timeoutMs} ms`
              : err.code === 127
                ? `command not found on the node (exit 127): ${said}; expected nvidia-smi on its PATH`
                : err.code === 255 && file.endsWith('ssh')
                  ? `ssh failed (exit 255): ${said}`
                  : `exit ${String(err.code ?? err.signal)}: ${said}`;
        reject(new FlexError('FLX_METER_UNAVAILABLE', `${where}: ${why}`, { cause: e }));
      },
    );
  });
};

/** nvidia-smi on every node, at most 16 at a time. */
export const nvidiaSmiSource = (o: NvidiaSmiOptions): GpuPowerSource => ({
  name: 'nvidia-smi',
  read: (nodes) =>
    eachLimited(nodes, async (node): Promise<NodeRead> => {
      try {
        const out = await runOnce(node, o);
        return { node, ok: true, gpus: parseMeterQuery(out, `nvidia-smi on ${node}`) };
      } catch (e) {
        return { node, ok: false, error: asFlexError(e) };
      }
    }),
});

export interface DcgmOptions {
  /** The exporter's metrics URL; with `{node}` in it, one fetch per node, else one for every node. */
  readonly url: string;
  readonly timeoutMs: number;
  /** The label naming the node (dcgm-exporter: Hostname). */
  readonly hostLabel?: string;
  readonly fetch?: typeof fetch;
}

const fetchText = async (url: string, o: DcgmOptions): Promise<string> => {
  let res: Response;
  try {
    res = await (o.fetch ?? fetch)(url, { signal: AbortSignal.timeout(o.timeoutMs) });
  } catch (e) {
    const timeout = (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError';
    throw new FlexError(
      'FLX_METER_UNAVAILABLE',
      `DCGM exporter ${url}: ${timeout ? `no answer within ${o.timeoutMs} ms` : `unreachable (${(e as Error).message})`}`,
      { cause: e },
    );
  }
  const body = await res.text();
  if (!res.ok)
    throw new FlexError(
      'FLX_METER_UNAVAILABLE',
      `DCGM exporter ${url}: HTTP ${res.status}: ${tail(body).slice(0, 200)}`,
    );
  return body;
};

/** A DCGM exporter per node (`{node}` in the URL), or one endpoint that labels every node. */
export const dcgmSource = (o: DcgmOptions): GpuPowerSource => {
  const perNode = o.url.includes(NODE_PLACEHOLDER);
  const fromHosts = (node: string, hosts: ReadonlyMap<string, GpuPower[]>, url: string): NodeRead => {
    const gpus = hosts.get(node);
    return gpus
      ? { node, ok: true, gpus }
      : {
          node,
          ok: false,
          error: new FlexError(
            'FLX_METER_INVALID',
            `DCGM exporter ${url}: no DCGM_FI_DEV_POWER_USAGE with ${o.hostLabel ?? 'Hostname'}="${node}" (it has ${[...hosts.keys()].join(', ') || 'none'})`,
          ),
        };
  };
  return {
    name: 'dcgm',
    async read(nodes) {
      if (perNode)
        return eachLimited(nodes, async (node) => {
          const url = o.url.split(NODE_PLACEHOLDER).join(encodeURIComponent(node));
          try {
            return fromHosts(node, parseDcgmMetrics(await fetchText(url, o), `DCGM exporter ${url}`, o.hostLabel), url);
          } catch (e) {
            return { node, ok: false, error: asFlexError(e) } as const;
          }
        });
      try {
        const hosts = parseDcgmMetrics(await fetchText(o.url, o), `DCGM exporter ${o.url}`, o.hostLabel);
        return nodes.map((node) => fromHosts(node, hosts, o.url));
      } catch (e) {
        const error = asFlexError(e);
        return nodes.map((node) => ({ node, ok: false, error }) as const);
      }
    },
  };
};
