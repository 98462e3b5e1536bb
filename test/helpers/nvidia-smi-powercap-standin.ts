// A RECORDING STAND-IN for nvidia-smi's power-limit commands (CI has no GPU; tests never run a real
// nvidia-smi). An executable script, written to a temporary directory, that keeps N H200s in a state
// file and appends every invocation (argv, and SLURM_JOB_ID when srun ran it inside a job) to a log:
//   --query-gpu=F,… --format=csv[,noheader][,nounits] [-i I,…]   answered from the state, in the
//       formats of the recorded H200 (../shared/traces/h200-duty-cycle-2026-12/query.csv: limits
//       200 / 700 / 700 W min / max / default, 78.28 W idle draw; bus id from nvidia-smi-q.xml)
//   -i I -pl W                                                   sets the limit, or refuses a value
//       outside [min, max] in nvidia-smi's own words (below)
// The recorded files are read when the stand-in is made, never copied into the project.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPath } from './shared.ts';

export interface StandinGpu {
  readonly index: number;
  readonly name: string;
  readonly uuid: string;
  readonly busId: string;
  readonly drawW: number;
  readonly limitW: number;
  readonly defaultW: number;
  readonly minW: number;
  readonly maxW: number;
}

/** `all`: the driver is gone (every call fails); `set`: queries answer but -pl fails. */
export type StandinFailure = 'none' | 'all' | 'set';

export interface StandinCall {
  readonly argv: readonly string[];
  /** Set when srun ran the stand-in inside a job's allocation. */
  readonly slurmJobId?: string;
}

export interface PowerCapStandin {
  /** The executable: the adapter's powerCaps.nvidiaSmi. */
  readonly path: string;
  gpus(): StandinGpu[];
  /** Sets a limit directly, as an operator's earlier `nvidia-smi -pl` would have. */
  setLimit(index: number, w: number): void;
  fail(mode: StandinFailure): void;
  calls(): StandinCall[];
  /** The `-i I -pl W` calls, in order. */
  setCalls(): { index: number; watts: number }[];
  clearCalls(): void;
  remove(): void;
}

const TRACE = ['traces', 'h200-duty-cycle-2026-12'] as const;

/** GPU 0 as the recorded H200 reported itself; GPU g differs only in its index, bus and uuid. */
const recordedGpus = (count: number): StandinGpu[] => {
  const [head = '', row = ''] = readFileSync(sharedPath(...TRACE, 'query.csv'), 'utf8')
    .trim()
    .split('\n');
  const names = head.split(',').map((h) => h.trim().replace(/ \[.*\]$/, ''));
  const cells = row.split(',').map((c) => c.trim());
  const v = (field: string): string => cells[names.indexOf(field)] ?? '';
  const watts = (field: string): number => Number.parseFloat(v(field));
  const xml = readFileSync(sharedPath(...TRACE, 'nvidia-smi-q.xml'), 'utf8');
  const bus = /<pci_bus_id>([^<]+)<\/pci_bus_id>/.exec(xml)?.[1] ?? '00000000:00:06.0';
  return Array.from({ length: count }, (_, g) => ({
    index: g,
    name: v('name'),
    uuid: `GPU-00000000-0000-0000-0000-${String(g).padStart(12, '0')}`,
    busId: bus.replace(
      /:([0-9A-Fa-f]{2})\.(\d)$/,
      (_, d: string, f: string) => `:${(Number.parseInt(d, 16) + g).toString(16).toUpperCase().padStart(2, '0')}.${f}`,
    ),
    drawW: watts('power.draw'),
    limitW: watts('power.limit'),
    defaultW: watts('power.default_limit'),
    minW: watts('power.min_limit'),
    maxW: watts('power.max_limit'),
  }));
};

const SCRIPT = (dir: string) => `#!${process.execPath}
// nvidia-smi stand-in written by test/helpers/nvidia-smi-powercap-standin.ts (a test double, not nvidia-smi).
const fs = require('node:fs');
const dir = ${JSON.stringify(dir)};
const argv = process.argv.slice(2);
fs.appendFileSync(dir + '/calls.jsonl', JSON.stringify({ argv, ...(process.env.SLURM_JOB_ID ? { slurmJobId: process.env.SLURM_JOB_ID } : {}) }) + '\\n');
const state = JSON.parse(fs.readFileSync(dir + '/state.json', 'utf8'));
const out = (s) => process.stdout.write(s + '\\n');
const bail = (code, msg) => { out(msg); process.exit(code); };
if (state.fail === 'all')
  bail(9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.");
let query, format = '', ids, pl;
for (let k = 0; k < argv.length; k++) {
  const a = argv[k];
  if (a.startsWith('--query-gpu=')) query = a.slice(12);
  else if (a.startsWith('--format=')) format = a.slice(9);
  else if (a === '-i' || a === '--id') ids = argv[++k];
  else if (a.startsWith('--id=')) ids = a.slice(5);
  else if (a === '-pl' || a === '--power-limit') pl = argv[++k];
  else if (a.startsWith('--power-limit=')) pl = a.slice(14);
  // Reconstruction: the words real nvidia-smi uses for an argument it does not know.
  else bail(2, "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.");
}
let gpus = state.gpus;
if (ids !== undefined) {
  const want = ids.split(',').map(Number);
  // Reconstruction (exit 6 is the man page's "a query to find an object was unsuccessful").
  for (const i of want) if (!gpus.some((g) => g.index === i)) bail(6, 'No devices were found');
  gpus = gpus.filter((g) => want.includes(g.index));
}
const w2 = (x) => x.toFixed(2) + ' W';
if (pl !== undefined) {
  const w = Number(pl);
  for (const g of gpus)
    if (!(w >= g.minW && w <= g.maxW))
      // Real nvidia-smi's words (e.g. "Provided power limit 50.00 W is not a valid power limit which
      // should be between 200.00 W and 700.00 W for GPU 00000000:06:00.0" on an H200, then
      // "Terminating early due to previous errors."), on stdout; exit 2 (the man page's "a supplied
      // argument is invalid") is our best reconstruction of its status.
      bail(2, 'Provided power limit ' + w2(w) + ' is not a valid power limit which should be between ' + w2(g.minW) + ' and ' + w2(g.maxW) + ' for GPU ' + g.busId + '\\nTerminating early due to previous errors.');
  // Reconstruction of a failed set (not root): NVML's error string, and status 4, the man page's
  // "the current user does not have permission"; the exact wording of real nvidia-smi is not recorded here.
  if (state.fail === 'set') bail(4, 'Failed to set power management limit for GPU ' + gpus[0].busId + ': Insufficient Permissions\\nTerminating early due to previous errors.');
  for (const g of gpus) {
    out('Power limit for GPU ' + g.busId + ' was set to ' + w2(w) + ' from ' + w2(g.limitW) + '.');
    g.limitW = w;
  }
  fs.writeFileSync(dir + '/state.json', JSON.stringify(state));
  out('All done.');
  process.exit(0);
}
if (query === undefined || !format.split(',').includes('csv')) bail(2, "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.");
const FIELDS = {
  index: [(g) => String(g.index), ''],
  name: [(g) => g.name, ''],
  uuid: [(g) => g.uuid, ''],
  'pci.bus_id': [(g) => g.busId, ''],
  'power.draw': [(g) => g.drawW.toFixed(2), 'W'],
  'power.limit': [(g) => g.limitW.toFixed(2), 'W'],
  'enforced.power.limit': [(g) => g.limitW.toFixed(2), 'W'],
  'power.default_limit': [(g) => g.defaultW.toFixed(2), 'W'],
  'power.min_limit': [(g) => g.minW.toFixed(2), 'W'],
  'power.max_limit': [(g) => g.maxW.toFixed(2), 'W'],
};
const fields = query.split(',');
// Real nvidia-smi's words for a field it does not know.
for (const f of fields) if (!FIELDS[f]) bail(2, 'Field "' + f + '" is not a valid field to query.');
const opts = format.split(',');
const units = !opts.includes('nounits');
if (!opts.includes('noheader')) out(fields.map((f) => (units && FIELDS[f][1] ? f + ' [' + FIELDS[f][1] + ']' : f)).join(', '));
for (const g of gpus) out(fields.map((f) => FIELDS[f][0](g) + (units && FIELDS[f][1] ? ' ' + FIELDS[f][1] : '')).join(', '));
`;

export const powerCapStandin = (count = 4): PowerCapStandin => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-nvidia-smi-powercap-'));
  // slurmd runs srun's steps as the job's user (root here); the directory must be reachable by it.
  chmodSync(dir, 0o755);
  const path = join(dir, 'nvidia-smi');
  const stateFile = join(dir, 'state.json');
  const log = join(dir, 'calls.jsonl');
  type State = { gpus: StandinGpu[]; fail: StandinFailure };
  const read = (): State => JSON.parse(readFileSync(stateFile, 'utf8')) as State;
  const write = (s: State) => writeFileSync(stateFile, JSON.stringify(s));
  write({ gpus: recordedGpus(count), fail: 'none' });
  writeFileSync(path, SCRIPT(dir));
  chmodSync(path, 0o755);
  const calls = (): StandinCall[] =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as StandinCall)
      : [];
  return {
    path,
    gpus: () => read().gpus,
    setLimit(index, w) {
      const s = read();
      write({ ...s, gpus: s.gpus.map((g) => (g.index === index ? { ...g, limitW: w } : g)) });
    },
    fail: (mode) => write({ ...read(), fail: mode }),
    calls,
    setCalls: () =>
      calls().flatMap(({ argv }) => {
        const i = argv.indexOf('-i');
        const p = argv.indexOf('-pl');
        return p < 0 ? [] : [{ index: Number(argv[i + 1]), watts: Number(argv[p + 1]) }];
      }),
    clearCalls: () => rmSync(log, { force: true }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
};
