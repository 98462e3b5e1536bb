// The group-commit journal with its SQLite writes on a worker thread (journal-thread.ts), so an
// fsync never stalls the event loop that serves HTTP; the ACK for a message still waits for the
// commit that holds its row. `seen` reads on this thread through its own read connection (WAL
// readers never wait for the writer). Same contract as openSqliteJournal (journal.ts).
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { AuditEntry } from '../../audit/chain.ts';
import { FlexError } from '../../errors.ts';
import type { Claimed } from '../../beckn/journal.ts';
import type { JournalJob, JournalResult } from './journal-thread.ts';
import type { SqliteJournal } from './journal.ts';
import { openDatabase } from './schema.ts';

// The worker is TypeScript like the rest of FlexLon; it registers the same loader (tsx) as the main
// thread before importing its module (a worker does not inherit the main thread's module hooks).
const bootstrap = (target: string): URL => {
  const code = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(target)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
};

type Job = JournalJob extends infer J ? (J extends unknown ? Omit<J, 'id'> : never) : never;

export const openSqliteJournalThread = async (
  path: string,
  options: { readonly actor?: string } = {},
): Promise<SqliteJournal> => {
  const file = resolve(path);
  const reader = await openDatabase(file, options.actor ?? 'flexlon');
  const peek = reader.prepare<[string], { outcome: string }>('SELECT outcome FROM message_claims WHERE key = ?');
  const worker = new Worker(bootstrap(new URL('./journal-thread.ts', import.meta.url).href), {
    workerData: { file, actor: options.actor ?? 'flexlon' },
  });
  const pending = new Map<number, { resolve: (r: JournalResult) => void; reject: (e: unknown) => void }>();
  let batches = 0;
  let entries = 0;
  let failed: Error | undefined;
  let onClosed: (() => void) | undefined;
  await new Promise<void>((ready, fail) => {
    worker.once('error', fail);
    worker.on('message', (m: JournalResult[] | 'ready' | 'closed') => {
      if (m === 'ready') {
        worker.off('error', fail);
        ready();
        return;
      }
      if (m === 'closed') {
        onClosed?.();
        return;
      }
      batches++;
      entries += m.length;
      for (const r of m) {
        pending.get(r.id)?.resolve(r);
        pending.delete(r.id);
      }
      if (pending.size === 0) worker.unref();
    });
  });
  worker.on('error', (e) => {
    failed = e;
    for (const p of pending.values())
      p.reject(new FlexError('FLX_INTERNAL', `the audit journal thread of ${file} failed: ${e.message}`, { cause: e }));
    pending.clear();
  });
  worker.unref();

  let queue: JournalJob[] = [];
  let seq = 0;
  const send = (job: Job): Promise<JournalResult> =>
    new Promise((res, rej) => {
      if (failed) {
        rej(new FlexError('FLX_INTERNAL', `the audit journal thread of ${file} failed: ${failed.message}`));
        return;
      }
      const id = seq++;
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve: res, reject: rej });
      if (queue.length === 0)
        setImmediate(() => {
          const jobs = queue;
          queue = [];
          worker.postMessage(jobs);
        });
      queue.push({ ...job, id } as JournalJob);
    });
  const check = (r: JournalResult): JournalResult & { ok: true } => {
    if (!r.ok) throw new FlexError('FLX_INTERNAL', `audit journal ${file}: ${r.error}`);
    return r;
  };

  return {
    seen: async (key) => peek.get(key)?.outcome,
    async accept(key, outcome, entry, duplicateOutcome): Promise<Claimed> {
      const r = check(await send({ op: 'accept', key, outcome, entry, duplicateOutcome }));
      return { first: r.first ?? true, outcome: r.outcome ?? outcome };
    },
    async append(entry: AuditEntry) {
      check(await send({ op: 'append', entry }));
    },
    async close() {
      if (queue.length > 0) {
        const jobs = queue;
        queue = [];
        worker.postMessage(jobs);
      }
      worker.ref();
      await new Promise<void>((done) => {
        onClosed = done;
        worker.postMessage('close');
      });
      await worker.terminate();
      reader.close();
    },
    stats: () => ({ batches, entries }),
  };
};
