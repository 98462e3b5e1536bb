// makeDirs (src/make-dirs.ts): mkdir -p for the folders users name, failing at once where a folder
// cannot be made (Node 20's recursive mkdirSync never returned for a path under /proc).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirs } from '../src/make-dirs.ts';

test('makeDirs makes missing parents, accepts a folder that exists, and refuses what cannot be a folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-make-dirs-'));
  try {
    const deep = join(dir, 'a', 'b', 'c');
    makeDirs(deep, 0o700);
    assert.ok(statSync(deep).isDirectory());
    assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o700);
    makeDirs(deep);
    writeFileSync(join(dir, 'file'), 'x');
    assert.throws(() => makeDirs(join(dir, 'file')), { code: 'EEXIST' });
    assert.throws(() => makeDirs(join(dir, 'file', 'under')), { code: 'ENOTDIR' });
    if (existsSync('/proc/self')) assert.throws(() => makeDirs('/proc/flexlon-no-such/folder'), { code: 'ENOENT' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
