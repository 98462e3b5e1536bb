// The command line as a user meets it: the real bin, spawned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { projectRoot } from '../helpers/shared.ts';

const flexlon = (...args: string[]) => {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'flexlon.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, FLEXLON_DATA_DIR: join(projectRoot, '.flexlon-test-unused') },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

/**
 * The same command through main(), in this process: what the bin runs (bin/flexlon.js sets the exit
 * code to main's), without a process start per case (about a second each on a 2-core machine).
 */
const flexlonInProcess = async (...args: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const dataDir = process.env.FLEXLON_DATA_DIR;
  process.env.FLEXLON_DATA_DIR = join(projectRoot, '.flexlon-test-unused');
  try {
    const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    if (dataDir === undefined) delete process.env.FLEXLON_DATA_DIR;
    else process.env.FLEXLON_DATA_DIR = dataDir;
  }
};

test('flexlon --help lists the commands', () => {
  const r = flexlon('--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /Usage: flexlon <command>/);
  assert.match(r.out, /^\s+demo\s+run the whole market/m);
});

test('every command has --help', () => {
  const r = flexlon('demo', '--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /--data-dir DIR/);
  assert.match(r.out, /--seconds-per-day N/);
  assert.match(r.out, /--site-profile busy\|half-idle\n\s+how busy each simulated site is \(default busy\)/);
  assert.match(r.out, /carbon cap \(default fifo\): fifo keeps the day.s emissions/);
  const sub = flexlon('signals', 'show', '--help');
  assert.equal(sub.code, 0);
  assert.match(sub.out, /^Usage: flexlon signals show /);
  assert.doesNotMatch(sub.out, /Usage: flexlon signals import/, "a subcommand's help is its own");
});

test('an unknown command is a usage error listing the commands', () => {
  const r = flexlon('frobnicate');
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown command "frobnicate"/);
  assert.match(r.err, /demo/);
});

test('bad input names the field and what would be accepted, without a stack trace (every case through main, two through the bin)', async () => {
  const cases: [string[], RegExp][] = [
    [
      ['demo', '--date', '24/01/2023'],
      /FLX_CONFIG_INVALID: --date: must be a real calendar day as YYYY-MM-DD, got "24\/01\/2023"/,
    ],
    [
      ['demo', '--date', '2024-11-01'],
      /FLX_CONFIG_INVALID: --date: the shipped grid data covers 2022-11-25 to 2024-09-30/,
    ],
    [
      // A negative number reaches the flag's own check (node's parseArgs took it for another option).
      ['demo', '--jobs', '-3'],
      /FLX_CONFIG_INVALID: --jobs: must be a whole number from 1 to 2000, got "-3"/,
    ],
    [
      ['demo', '--seconds-per-day', 'fast'],
      /FLX_CONFIG_INVALID: --seconds-per-day: must be a number from 1 to 86400, got "fast"/,
    ],
    [
      ['demo', '--seconds-per-day', '5'],
      /FLX_CONFIG_INVALID: --seconds-per-day: must be at least 15, got "5": faster, the replayed market clock outruns/,
    ],
    [
      ['demo', '--date', '2023-02-30'],
      /FLX_CONFIG_INVALID: --date: must be a real calendar day as YYYY-MM-DD, got "2023-02-30"/,
    ],
    // The shipped data end with settlement day 2024-09-30 (22:30 UTC is its SP48, 23:30 BST): the
    // demo needs the day and the next, so 2024-09-29 is the last it can replay.
    [['demo', '--date', '2024-09-30'], /pick --date from 2022-11-25 to 2024-09-29\)/],
    [['demo', '--jobs', '2.5'], /FLX_CONFIG_INVALID: --jobs: must be a whole number/],
    [
      ['demo', '--site-profile', 'idle'],
      /FLX_CONFIG_INVALID: --site-profile: must be busy .* or half-idle .*, got "idle"/,
    ],
    [['demo', '--sites', '5'], /FLX_CONFIG_INVALID: --sites: must be a whole number from 1 to 4, got "5"/],
    [['demo', '--sites', 'two'], /FLX_CONFIG_INVALID: --sites: must be a whole number from 1 to 4, got "two"/],
    [['demo', '--log-level', 'loud'], /FLX_CONFIG_INVALID: --log-level: must be one of/],
    [['demo', '--colour'], /FLX_CLI_USAGE: Unknown option '--colour'\n/],
    // A mistyped flag names the one it most likely meant: a prefix, or two edits away.
    [['demo', '--dat', '2023-01-24'], /FLX_CLI_USAGE: Unknown option '--dat': did you mean --date\?/],
    [['demo', '--stes', '2'], /FLX_CLI_USAGE: Unknown option '--stes': did you mean --sites\?/],
  ];
  for (const [args, message] of cases) {
    const r = await flexlonInProcess(...args);
    assert.equal(r.code, 2, `${args.join(' ')} exits 2`);
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  }
  // The real process, for a configuration error and a usage error: its exit code and stderr.
  for (const [args, message] of [cases[0], cases[cases.length - 1]] as [string[], RegExp][]) {
    const r = flexlon(...args);
    assert.equal(r.code, 2, `${args.join(' ')} exits 2`);
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  }
});

test('a rejected configuration writes nothing: no run folder is left behind', async () => {
  const { mkdtempSync, existsSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-cli-'));
  try {
    const r = flexlon('demo', '--data-dir', dir, '--date', '2024-11-01');
    assert.equal(r.code, 2);
    assert.equal(existsSync(join(dir, 'runs')), false);
    // Nor does it announce a replay it will not run: the error alone.
    assert.equal(r.out, '', r.out);
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const f = flexlon('demo', '--data-dir', file);
    assert.equal(f.code, 2);
    assert.match(f.err, /FLX_CONFIG_INVALID: data directory .*not-a-folder: .*is a file, not a directory/);
    assert.equal(f.out, '', f.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('output piped into a reader that stops early (| head) ends quietly (0, or 141 if still running), no stack trace', async () => {
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    [join(projectRoot, 'bin', 'flexlon.js'), 'signals', 'show', '--from', '2023-01-01', '--to', '2023-12-31'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  child.stdout.once('data', () => child.stdout.destroy());
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.ok(code === 0 || code === 141, `exit ${code}: ${err.slice(0, 2000)}`);
  assert.doesNotMatch(err, /EPIPE|\n\s+at /);
});
