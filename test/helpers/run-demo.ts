// `flexlon demo ARGS` through the CLI entry point, in-process, in a fresh data directory: what the
// tests of the demo's flags (--sites, --top-up, --baseline/--meter-out) share. Each of those is
// about its flag, not the busy default site, so the half-idle site and the fastest clock the demo
// allows (15 s per day, MIN_SECONDS_PER_DAY) are used unless `args` say otherwise.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { MIN_SECONDS_PER_DAY } from '../../src/config.ts';

export interface DemoRun {
  /** What the demo printed to stdout, one entry per line (a printed "\nSummary" is two lines). */
  readonly lines: readonly string[];
  readonly text: string;
  readonly dataDir: string;
  /** The run's folder under DATA/runs/, as the demo printed it. */
  readonly runDir: string;
  /** Removes the data directory. */
  remove(): void;
}

/**
 * Runs the demo and asserts it exited 0 (its stderr and stdout are the message otherwise). The data
 * directory is a new temporary one unless `o.dataDir` is given; call remove() when done with it.
 */
export const runDemo = async (args: readonly string[], o: { readonly dataDir?: string } = {}): Promise<DemoRun> => {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'flexlon-demo-'));
  const remove = () => rmSync(dataDir, { recursive: true, force: true });
  const lines: string[] = [];
  const errors: string[] = [];
  const unless = (flag: string, value: string) => (args.includes(flag) ? [] : [flag, value]);
  try {
    const code = await main(
      [
        'demo',
        ...args,
        ...unless('--site-profile', 'half-idle'),
        ...unless('--seconds-per-day', String(MIN_SECONDS_PER_DAY)),
        '--data-dir',
        dataDir,
        '--log-level',
        'silent',
      ],
      { out: (l) => lines.push(...l.split('\n')), err: (l) => errors.push(l) },
    );
    assert.equal(code, 0, [...errors, ...lines].join('\n'));
    const runDir = lines.find((l) => l.startsWith('run folder: '))?.slice('run folder: '.length);
    assert.ok(runDir, `the demo printed its run folder:\n${lines.join('\n')}`);
    return { lines, text: lines.join('\n'), dataDir, runDir, remove };
  } catch (e) {
    if (!o.dataDir) remove();
    throw e;
  }
};
