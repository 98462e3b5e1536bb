// Kills a process in the middle of its store transactions (SIGKILL: no cleanup, no close) and
// checks what is left: every transaction is there whole or not at all, and the audit chain is
// intact. The child writes order + audit + outbox per transaction, yielding between the writes so
// that the kill lands inside transactions, not only between them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { verifyChain } from '../../src/audit/chain.ts';
import type { Store } from '../../src/ports.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * `openExpr` is JavaScript evaluated in the child to open the store, with `mod` the imported
 * adapter module and `env` the child's environment, e.g. "mod.openSqliteStore(env.FLX_FILE)".
 */
export const killMidTransaction = (
  module: string,
  openExpr: string,
  env: Record<string, string>,
  delayMs: number,
): Promise<void> => {
  const code = `
    const mod = await import(${JSON.stringify(module)});
    const env = process.env;
    const store = await ${openExpr};
    const tick = () => new Promise((r) => setImmediate(r));
    for (let i = 0; ; i++) {
      await store.transaction(async (tx) => {
        const id = 'o-' + i;
        await tx.saveOrder({ id, transactionId: 'tx-' + i, bapId: 'b', bapUri: 'u', offerId: 'f', site: 's', windowStart: 0, windowEnd: 1, reductionKw: 1, priceGbp: 1, state: 'confirmed', updatedAt: i });
        await tick();
        await tx.appendAudit({ kind: 'order', at: i, actor: 'child', orderId: id, payload: { i } });
        await tick();
        await tx.enqueueOutbox({ id: 'cb-' + i, destination: 'http://peer/on_confirm', action: 'on_confirm', orderId: id, body: { i }, createdAt: i });
      });
      if (i === 20) process.stdout.write('ready\\n');
    }`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.on('error', reject);
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.on('exit', (status, signal) =>
      signal === 'SIGKILL'
        ? resolve()
        : reject(new Error(`the writer exited by itself (status ${status}) before it was killed`)),
    );
  });
};

/** After the kill: orders, audit records and outbox messages name the same transactions, 0..n-1, and the chain verifies. */
export const checkNothingHalfWritten = async (store: Store): Promise<number> => {
  const orders = (await store.listOrders()).map((o) => o.id).sort();
  const trail = await store.auditTrail();
  assert.deepEqual(verifyChain(trail), { ok: true, records: trail.length });
  assert.deepEqual(trail.map((r) => r.orderId).sort(), orders, 'an audit record for every order and no other');
  assert.deepEqual(
    (await store.listOutbox()).map((m) => m.orderId).sort(),
    orders,
    'a message owed for every order and no other',
  );
  assert.deepEqual(
    trail.map((r) => r.orderId),
    Array.from({ length: trail.length }, (_, i) => `o-${i}`),
    'committed in order, none missing',
  );
  assert.ok(trail.length > 20);
  return trail.length;
};
