// Signature checks off the event loop. An ed25519 verify plus the BLAKE2b-512 digest is ~110 µs of
// CPU (docs/benchmarks.md) — about half of what a receiver spends on a request — so a receiver
// under load can hand that part to worker threads and keep its main thread on HTTP, parsing, schema,
// dedupe and the audit write. Only the arithmetic moves: header parsing, clock checks and the
// registry lookup stay in verify.ts, so errors and their codes are exactly the same.
//
// The worker is plain JavaScript evaluated from a string (it needs nothing but node:crypto), so it
// runs the same under tsx, plain node or a bundle.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FlexError } from '../errors.ts';

/** Computes the body digest and checks the signature; resolves to the digest, or undefined if it does not verify. */
export type SignatureCheck = (body: Uint8Array, created: number, expires: number, signature: string, publicKeyBase64: string) => Promise<string | undefined>;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash, createPublicKey, verify } = require('node:crypto');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
parentPort.on('message', (batch) => {
  const out = batch.map((m) => {
    let key = keys.get(m.pub);
    if (!key) {
      key = createPublicKey({ key: Buffer.concat([SPKI, Buffer.from(m.pub, 'base64')]), format: 'der', type: 'spki' });
      if (keys.size > 10000) keys.clear();
      keys.set(m.pub, key);
    }
    const digest = createHash('blake2b512').update(m.body).digest('base64');
    const str = '(created): ' + m.created + '\\n(expires): ' + m.expires + '\\ndigest: BLAKE-512=' + digest;
    const sig = Buffer.from(m.sig, 'base64');
    const ok = sig.length === 64 && verify(null, Buffer.from(str, 'utf8'), key, sig);
    return { id: m.id, digest: ok ? digest : null };
  });
  parentPort.postMessage(out);
});
`;

interface Pending { readonly resolve: (d: string | undefined) => void; readonly reject: (e: unknown) => void }
interface Job { id: number; body: Uint8Array; created: number; expires: number; sig: string; pub: string }

export interface VerifierPool {
  readonly check: SignatureCheck;
  readonly threads: number;
  close(): Promise<void>;
}

/** A pool of `threads` workers (default: one fewer than the cores, at least one). */
export const createVerifierPool = (threads = Math.max(1, availableParallelism() - 1)): VerifierPool => {
  const pending = new Map<number, Pending>();
  const workers = Array.from({ length: threads }, () => {
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (results: { id: number; digest: string | null }[]) => {
      for (const r of results) {
        pending.get(r.id)?.resolve(r.digest ?? undefined);
        pending.delete(r.id);
      }
      if (pending.size === 0) for (const x of workers) x.unref();
    });
    w.on('error', (e) => { for (const p of pending.values()) p.reject(new FlexError('FLX_INTERNAL', `signature worker failed: ${e.message}`, { cause: e })); pending.clear(); });
    w.unref();
    return w;
  });
  // Jobs queued in one turn of the event loop go to the workers as one message each (fewer postMessage calls).
  let queue: Job[] = [];
  let next = 0;
  let seq = 0;
  const flush = () => {
    const jobs = queue;
    queue = [];
    const per = Math.ceil(jobs.length / workers.length);
    for (let k = 0; k < jobs.length; k += per) workers[next++ % workers.length]?.postMessage(jobs.slice(k, k + per));
  };
  return {
    threads,
    check: (body, created, expires, signature, publicKeyBase64) => new Promise((resolve, reject) => {
      const id = seq++;
      // Idle workers do not keep the process alive; workers with checks in flight do.
      if (pending.size === 0) for (const x of workers) x.ref();
      pending.set(id, { resolve, reject });
      if (queue.length === 0) setImmediate(flush);
      // A copy of exactly the body's bytes (a Buffer may be a view into a larger shared pool).
      queue.push({ id, body: Uint8Array.prototype.slice.call(body), created, expires, sig: signature, pub: publicKeyBase64 });
    }),
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
      for (const p of pending.values()) p.reject(new FlexError('FLX_INTERNAL', 'the signature worker pool was closed'));
      pending.clear();
    },
  };
};
