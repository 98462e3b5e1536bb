// Which field or flag a mistyped name meant (src/domain/nearest.ts): the config reader and the CLI
// name it in their errors, so a wrong guess would send an operator to the wrong field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nearestName, oneSlipFrom } from '../../src/domain/nearest.ts';

test('one slip: a letter wrong, missing, added or two neighbours swapped; nothing further', () => {
  for (const [typed, name] of [
    ['prot', 'port'],
    ['pot', 'port'],
    ['ports', 'port'],
    ['pord', 'port'],
    ['keyfile', 'keyFile'],
    ['oprt', 'port'],
  ] as const)
    assert.ok(oneSlipFrom(typed, name), `${typed} → ${name}`);
  for (const [typed, name] of [
    ['host', 'port'],
    ['port', 'port'],
    ['tropp', 'port'],
    ['pt', 'port'],
    ['orpt', 'port'],
    ['', 'port'],
  ] as const)
    assert.ok(!oneSlipFrom(typed, name), `${typed} ↛ ${name}`);
});

test('the nearest name: the only one it prefixes, or the one nearest within two edits, never a tie', () => {
  assert.equal(nearestName('--dat', ['--date', '--jobs']), '--date');
  assert.equal(nearestName('perSecnd', ['perSecond', 'burst', 'enabled']), 'perSecond');
  assert.equal(nearestName('sie', ['site', 'size']), undefined, 'a tie names neither');
  assert.equal(nearestName('zzzz', ['port', 'host']), undefined);
});
