// A RECORDING STAND-IN for nvidia-smi (CI has no GPU): an executable script, written to a temporary
// directory, that the meter runs through its real command path (execFile) as it would run
// `ssh NODE nvidia-smi …`: the stand-in takes the node's name as its first argument. It appends its
// argv to a record file and prints what a real nvidia-smi printed, read at run time from the recorded
// H200 outputs in ../shared/traces/h200-duty-cycle-2026-12 (never copied into the project):
//   trace    — power.draw of successive rows of power-trace.csv (one row per call; GPU g reads g×100 rows on)
//   query    — power.draw and power.limit of query.csv (78.28 W, 700.00 W) for every GPU
//   verbatim — a file printed as it is (e.g. nvidia-smi-power.txt, which is not the CSV asked for)
//   hang     — never answers (for the timeout); fail — the driver error, exit 9; missing — exit 127
// Each node's behaviour is set (and may be changed between polls) with `set`.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPath } from './shared.ts';

export type StandinMode =
  | { readonly mode: 'trace'; readonly gpus: number }
  | { readonly mode: 'query'; readonly gpus: number }
  | { readonly mode: 'verbatim'; readonly file: string }
  | { readonly mode: 'hang' | 'fail' | 'missing' };

export interface NvidiaSmiStandin {
  /** The executable: use it as the meter's command, e.g. [path, '{node}', 'nvidia-smi']. */
  readonly path: string;
  /** How each node answers from now on (nodes not set answer as 'query' with one GPU). */
  set(node: string, mode: StandinMode): void;
  /** Every call's argv (after the executable), in order. */
  calls(): string[][];
  remove(): void;
}

export const TRACE_DIR = ['traces', 'h200-duty-cycle-2026-12'] as const;

const SCRIPT = (dir: string, trace: string, query: string) => `#!${process.execPath}
// nvidia-smi stand-in written by test/helpers/nvidia-smi-standin.ts (a test double, not nvidia-smi).
const fs = require('node:fs');
const dir = ${JSON.stringify(dir)};
const [node, ...rest] = process.argv.slice(2);
fs.appendFileSync(dir + '/calls.jsonl', JSON.stringify([node, ...rest]) + '\\n');
const modes = JSON.parse(fs.readFileSync(dir + '/modes.json', 'utf8'));
const m = modes[node] || { mode: 'query', gpus: 1 };
const cells = (line) => line.split(',').map((c) => c.trim());
const uuid = (g) => 'GPU-00000000-0000-0000-0000-' + String(g).padStart(12, '0');
if (m.mode === 'hang') setTimeout(() => {}, 600000);
else if (m.mode === 'fail') {
  process.stderr.write("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\\n");
  process.exit(9);
} else if (m.mode === 'missing') {
  process.stderr.write('bash: line 1: nvidia-smi: command not found\\n');
  process.exit(127);
} else if (m.mode === 'verbatim') process.stdout.write(fs.readFileSync(m.file, 'utf8'));
else if (m.mode === 'query') {
  const [head, row] = fs.readFileSync(${JSON.stringify(query)}, 'utf8').trim().split('\\n').map(cells);
  const v = (name) => row[head.findIndex((h) => h.startsWith(name + ' '))].replace(/ W$/, '');
  for (let g = 0; g < m.gpus; g++) process.stdout.write([g, uuid(g), v('power.draw'), v('power.limit')].join(', ') + '\\n');
} else {
  const rows = fs.readFileSync(${JSON.stringify(trace)}, 'utf8').trim().split('\\n').slice(1).map(cells);
  const countFile = dir + '/count-' + node;
  const k = fs.existsSync(countFile) ? Number(fs.readFileSync(countFile, 'utf8')) : 0;
  fs.writeFileSync(countFile, String(k + 1));
  for (let g = 0; g < m.gpus; g++) process.stdout.write([g, uuid(g), rows[(k + 100 * g) % rows.length][1], '700.00'].join(', ') + '\\n');
}
`;

export const nvidiaSmiStandin = (): NvidiaSmiStandin => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-nvidia-smi-standin-'));
  const path = join(dir, 'nvidia-smi-standin.cjs');
  const modes: Record<string, StandinMode> = {};
  writeFileSync(join(dir, 'modes.json'), '{}');
  writeFileSync(path, SCRIPT(dir, sharedPath(...TRACE_DIR, 'power-trace.csv'), sharedPath(...TRACE_DIR, 'query.csv')));
  chmodSync(path, 0o755);
  return {
    path,
    set(node, mode) {
      modes[node] = mode;
      writeFileSync(join(dir, 'modes.json'), JSON.stringify(modes));
    },
    calls() {
      const f = join(dir, 'calls.jsonl');
      if (!existsSync(f)) return [];
      return readFileSync(f, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as string[]);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
};
