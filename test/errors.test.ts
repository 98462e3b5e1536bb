// The error registry and docs/error-codes.md describe the same codes with the same statuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERRORS, FlexError } from '../src/errors.ts';
import { toNack } from '../src/beckn/ack.ts';
import { projectRoot } from './helpers/shared.ts';

test('every error code is documented with its HTTP status and Beckn code, and nothing else is', () => {
  const doc = readFileSync(join(projectRoot, 'docs', 'error-codes.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `(FLX_[A-Z_]+)` \| (\d{3}) \| (\d{5}) \|/gm)].map((m) => [
    m[1],
    Number(m[2]),
    m[3],
  ]);
  const registry = Object.entries(ERRORS).map(([code, e]) => [code, e.http, e.beckn]);
  assert.deepEqual(rows.sort(), registry.sort());
});

test('every code becomes a NACK with its status and Beckn code; internal details are not leaked', () => {
  for (const code of Object.keys(ERRORS) as (keyof typeof ERRORS)[]) {
    const n = toNack(new FlexError(code, 'detail', { path: 'a.b' }));
    assert.equal(n.http, ERRORS[code].http);
    assert.equal(n.body.message.ack.status, 'NACK');
    assert.equal(n.body.error?.code, ERRORS[code].beckn);
    assert.equal(n.body.error?.paths, 'a.b');
  }
  const internal = toNack(new Error('secret database path /var/x'));
  assert.equal(internal.http, 500);
  assert.doesNotMatch(internal.body.error?.message ?? '', /secret/);
});
