// The pino logger behind the Logger interface: JSON lines in the shape of src/log.ts, ids from the
// log context on every line inside it, secrets redacted, levels filtered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPinoLogger, withLogContext } from '../../src/observability/logger.ts';
import type { Logger } from '../../src/log.ts';

const capture = (
  level: Parameters<typeof createPinoLogger>[0]['level'] = 'debug',
): { log: Logger; lines: () => Record<string, unknown>[] } => {
  const out: string[] = [];
  const log = createPinoLogger({ level, base: { agent: 'flex' }, destination: { write: (l: string) => out.push(l) } });
  return { log, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
};

test('lines are JSON with ISO time, the level as a word, base and call fields, and msg', () => {
  const { log, lines } = capture();
  log.child({ site: 'lon-1' }).info({ orders: 2 }, 'planned');
  const [line] = lines();
  assert.equal(line?.level, 'info');
  assert.equal(line?.msg, 'planned');
  assert.deepEqual([line?.agent, line?.site, line?.orders], ['flex', 'lon-1', 2]);
  assert.match(String(line?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('inside withLogContext every line carries transaction_id and message_id, also after awaits', async () => {
  const { log, lines } = capture();
  await withLogContext({ transaction_id: 'tx-1', message_id: 'm-1' }, async () => {
    log.info({}, 'received');
    await new Promise((r) => setImmediate(r));
    await withLogContext({ message_id: 'm-2' }, async () => log.warn({ action: 'on_confirm' }, 'callback'));
    log.error({ message_id: 'explicit' }, 'fields given win');
  });
  log.info({}, 'outside');
  assert.deepEqual(
    lines().map((l) => [l.msg, l.transaction_id, l.message_id]),
    [
      ['received', 'tx-1', 'm-1'],
      ['callback', 'tx-1', 'm-2'],
      ['fields given win', 'tx-1', 'explicit'],
      ['outside', undefined, undefined],
    ],
  );
});

test('secrets are redacted and levels below the threshold are dropped', () => {
  const { log, lines } = capture('info');
  log.debug({}, 'hidden');
  log.info(
    { authorization: 'Signature keyId="x"', peer: { password: 'hunter2' }, url: 'https://grid.example' },
    'sent',
  );
  const all = lines();
  assert.equal(all.length, 1);
  assert.equal(all[0]?.authorization, '[redacted]');
  assert.deepEqual(all[0]?.peer, { password: '[redacted]' });
  assert.equal(all[0]?.url, 'https://grid.example');
  assert.doesNotMatch(JSON.stringify(all), /hunter2|keyId/);
  const silent = capture('silent');
  silent.log.error({}, 'nothing');
  assert.deepEqual(silent.lines(), []);
});
