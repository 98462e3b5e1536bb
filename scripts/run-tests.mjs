// Runs every *.test.ts under test/ with node's own test runner and the tsx loader.
// Node 20's --test does not expand globs itself, so the file list is built here.
// Usage: node scripts/run-tests.mjs [path-filter ...]
// Two test files run at once (FLEXLON_TEST_CONCURRENCY to change it). Node's own default is one less
// than the cores, so one at a time on a 2-core machine; most of the long files wait on a replayed
// market clock or on child processes rather than compute, so two at a time takes the suite from about
// 18 to about 11 minutes there. Ports stay apart: freePort (test/helpers/run-process.ts) takes each
// process's ports from its own block.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function collect(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return collect(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = collect('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const concurrency = process.env.FLEXLON_TEST_CONCURRENCY ?? '2';
if (!/^[1-9][0-9]*$/.test(concurrency)) {
  console.error(`FLEXLON_TEST_CONCURRENCY must be a whole number from 1, got "${concurrency}"`);
  process.exit(1);
}
const args = ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files];
const result = spawnSync(process.execPath, args, {
  stdio: 'inherit',
  env: { ...process.env, FLEXLON_LOG_LEVEL: process.env.FLEXLON_LOG_LEVEL ?? 'silent' },
});
process.exit(result.status ?? 1);
