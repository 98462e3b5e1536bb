// The worker side of the threaded group-commit journal (journal-threaded.ts). It owns one connection
// to the store file; every batch of jobs it finds waiting (it drains its port before committing) goes
// into one IMMEDIATE transaction — one fsync — and the results go back in one message. The fsync therefore blocks this thread, not the event loop that serves HTTP.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { AuditEntry } from '../../audit/chain.ts';
import { asDuplicate } from '../../beckn/journal.ts';
import { auditTable, claimsTable } from './journal-tables.ts';
import { openDatabase } from './schema.ts';

export type JournalJob =
  | {
      readonly id: number;
      readonly op: 'accept';
      readonly key: string;
      readonly outcome: string;
      readonly entry: AuditEntry;
      readonly duplicateOutcome: string;
    }
  | { readonly id: number; readonly op: 'append'; readonly entry: AuditEntry };

export type JournalResult =
  | { readonly id: number; readonly ok: true; readonly first?: boolean; readonly outcome?: string }
  | { readonly id: number; readonly ok: false; readonly error: string };

const port = parentPort as MessagePort;
const { file, actor } = workerData as { file: string; actor: string };
const db = await openDatabase(file, actor);
const audit = auditTable(db, file);
const claims = claimsTable(db);
const run = (job: JournalJob): JournalResult => {
  if (job.op === 'append') {
    audit.append(job.entry);
    return { id: job.id, ok: true };
  }
  const claim = claims.claim(job.key, job.outcome);
  audit.append(claim.first ? job.entry : asDuplicate(job.entry, job.duplicateOutcome));
  return { id: job.id, ok: true, first: claim.first, outcome: claim.outcome };
};
// A batch is committed whole; only if that fails is it committed again with a savepoint per job, so
// the one that cannot be stored fails alone.
const whole = db.transaction((jobs: JournalJob[]): JournalResult[] => jobs.map(run));
const inSavepoint = db.transaction(run);
const oneByOne = db.transaction((jobs: JournalJob[]): JournalResult[] =>
  jobs.map((job) => {
    try {
      return inSavepoint(job);
    } catch (e) {
      return { id: job.id, ok: false, error: (e as Error).message };
    }
  }),
);

const commit = (jobs: JournalJob[]): JournalResult[] => {
  try {
    return whole.immediate(jobs);
  } catch {
    try {
      return oneByOne.immediate(jobs);
    } catch (e) {
      return jobs.map((j) => ({ id: j.id, ok: false, error: (e as Error).message }));
    }
  }
};

port.on('message', (first: JournalJob[] | 'close') => {
  if (first === 'close') {
    db.close();
    port.postMessage('closed');
    return;
  }
  const jobs = [...first];
  // Everything that arrived while the last commit was running joins this one.
  for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
    if (m.message === 'close') {
      port.postMessage(commit(jobs));
      db.close();
      port.postMessage('closed');
      return;
    }
    jobs.push(...(m.message as JournalJob[]));
  }
  port.postMessage(commit(jobs));
});
port.postMessage('ready');
