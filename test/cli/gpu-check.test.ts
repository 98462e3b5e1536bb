// scripts/gpu-check.sh, the operator's check of a GPU node (docs/operator-guide.md, "Checking a GPU
// node"), run against the RECORDING nvidia-smi STAND-IN (test/helpers/nvidia-smi-powercap-standin.ts:
// CI has no GPU, and a real GPU's limits are never changed by a test).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { powerCapStandin, type PowerCapStandin } from '../helpers/nvidia-smi-powercap-standin.ts';
import { projectRoot } from '../helpers/shared.ts';

const SCRIPT = join(projectRoot, 'scripts', 'gpu-check.sh');
// --set-cap and --restore refuse anyone but root (nvidia-smi -pl needs it); CI runs as root.
const NOT_ROOT = process.getuid?.() !== 0 ? 'skipped: --set-cap and --restore need root' : false;

describe('scripts/gpu-check.sh against the recording nvidia-smi stand-in', () => {
  let smi: PowerCapStandin;
  let dir: string;
  let state: string;
  const run = (...args: string[]) => {
    const r = spawnSync('bash', [SCRIPT, ...args], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${dirname(smi.path)}:${process.env.PATH ?? ''}`, FLEXLON_GPU_CHECK_STATE: state },
    });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };
  before(() => {
    smi = powerCapStandin(2);
    dir = mkdtempSync(join(tmpdir(), 'flexlon-gpu-check-'));
    state = join(dir, 'saved');
  });
  after(() => {
    smi.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('--help prints the usage to stdout and exits 0; an unknown flag prints it to stderr and exits 2', () => {
    const help = run('--help');
    assert.equal(help.status, 0, help.err);
    assert.match(help.out, /^gpu-check\.sh — /);
    const wrong = run('--bogus');
    assert.equal(wrong.status, 2);
    assert.match(wrong.err, /unknown argument: --bogus[\s\S]*gpu-check\.sh — /);
    assert.equal(wrong.out, '');
  });

  it('a flag given without its value is a usage error that says so, not a silent exit 1', () => {
    for (const flag of ['--samples', '--gpu', '--set-cap']) {
      const r = run(flag);
      assert.equal(r.status, 2, `${flag}: ${r.err}`);
      assert.match(r.err, new RegExp(`${flag} needs a value`));
    }
    assert.deepEqual(smi.setCalls(), []);
  });

  it('reads one GPU only with --gpu, and changes nothing', () => {
    const r = run('--gpu', '1');
    assert.equal(r.status, 0, r.err);
    const meter = r.out.trim().split('\n').at(-1) ?? '';
    assert.match(meter, /^1, GPU-[0-]+1, /);
    assert.doesNotMatch(r.out, /^0, /m);
    assert.deepEqual(smi.setCalls(), []);
  });

  it('keeps the limit from before the first --set-cap, and says so on the second', { skip: NOT_ROOT }, () => {
    const first = run('--set-cap', '400', '--gpu', '0');
    assert.equal(first.status, 0, first.err);
    assert.match(first.out, /limit 700\.00 W saved in /);
    const second = run('--set-cap', '350', '--gpu', '0');
    assert.equal(second.status, 0, second.err);
    // Not "limit 400 W saved": 700 W, the limit before the first, is what --restore puts back.
    assert.match(second.out, /limit now 400\.00 W; its limit before the first --set-cap, 700\.00 W, stays saved/);
    assert.match(readFileSync(state, 'utf8'), /^0 GPU-[0-]+0 700\.00$/m);
    const back = run('--restore', '--gpu', '0');
    assert.equal(back.status, 0, back.err);
    assert.deepEqual(smi.setCalls().at(-1), { index: 0, watts: 700 });
    assert.equal(smi.gpus()[0]?.limitW, 700);
  });

  it('will not restore a saved limit onto another GPU that now has that index', { skip: NOT_ROOT }, () => {
    smi.clearCalls();
    writeFileSync(state, '1 GPU-11111111-2222-3333-4444-555555555555 300.00\n');
    const r = run('--restore', '--gpu', '1');
    assert.equal(r.status, 3, r.out);
    assert.match(r.err, /GPU 1 is now GPU-[0-]+1, but the limit saved in .* is for GPU-1111/);
    assert.deepEqual(smi.setCalls(), []);
    assert.match(readFileSync(state, 'utf8'), /^1 GPU-1111/m);
    // Every saved GPU is checked before any is restored: GPU 0's good line changes nothing either.
    writeFileSync(
      state,
      '0 GPU-00000000-0000-0000-0000-000000000000 700.00\n1 GPU-11111111-2222-3333-4444-555555555555 300.00\n',
    );
    const all = run('--restore');
    assert.equal(all.status, 3, all.out);
    assert.deepEqual(smi.setCalls(), []);
    assert.match(readFileSync(state, 'utf8'), /^0 GPU-[0-]+0 700\.00$/m);
    // Nor is a cap set over another GPU's saved limit at that index (it could never be restored).
    const cap = run('--set-cap', '300', '--gpu', '01');
    assert.equal(cap.status, 3, cap.out);
    assert.match(cap.err, /GPU 1 is now GPU-[0-]+1, but .* holds a limit saved for GPU-1111/);
    assert.deepEqual(smi.setCalls(), []);
  });
});
