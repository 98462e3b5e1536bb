// Signature checks off the event loop. An ed25519 verify is ~100 µs of CPU (docs/benchmarks.md) —
// about a third of what a receiver spends on a request — so a receiver under load can hand it to
// worker threads and keep its main thread on HTTP, parsing, schema, dedupe and the audit write. Only
// the arithmetic moves: header parsing, clock checks and the registry lookup stay in verify.ts, so
// errors and their codes are exactly the same. A receiver uses it when its role's config sets
// `verifyThreads` (docs/operator-guide.md); without it, verification stays on the event loop.
//
// The worker is plain JavaScript evaluated from a string (it needs nothing but node:crypto), so it
// runs the same under tsx, plain node or a bundle.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FlexError } from '../errors.ts';
import { blake512Base64, signingString } from './signing.ts';

/** Computes the body digest and checks the signature; resolves to the digest, or undefined if it does not verify. */
export type SignatureCheck = (
  body: Uint8Array,
  created: number,
  expires: number,
  signature: string,
  publicKeyBase64: string,
) => Promise<string | undefined>;

// Messages are flat arrays of strings (id, signing string, signature, public key, …): cheap to clone,
// unlike arrays of objects holding byte arrays. The digest (BLAKE2b, ~4 µs) stays on the caller's
// thread, which needs it anyway; the ed25519 verify (~100 µs) moves.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map();
parentPort.on('message', (flat) => {
  const ok = new Array(flat.length / 4);
  for (let i = 0; i < flat.length; i += 4) {
    const pub = flat[i + 3];
    let key = keys.get(pub);
    if (!key) {
      key = createPublicKey({ key: Buffer.concat([SPKI, Buffer.from(pub, 'base64')]), format: 'der', type: 'spki' });
      if (keys.size > 10000) keys.clear();
      keys.set(pub, key);
    }
    const sig = Buffer.from(flat[i + 2], 'base64');
    ok[i / 4] = sig.length === 64 && verify(null, Buffer.from(flat[i + 1], 'utf8'), key, sig);
  }
  parentPort.postMessage([flat.filter((_, k) => k % 4 === 0), ok]);
});
`;

interface Pending {
  readonly resolve: (ok: boolean) => void;
  readonly reject: (e: unknown) => void;
}

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
    w.on('message', ([ids, oks]: [string[], boolean[]]) => {
      ids.forEach((id, k) => {
        pending.get(Number(id))?.resolve(oks[k] === true);
        pending.delete(Number(id));
      });
      if (pending.size === 0) for (const x of workers) x.unref();
    });
    w.on('error', (e) => {
      for (const p of pending.values())
        p.reject(new FlexError('FLX_INTERNAL', `signature worker failed: ${e.message}`, { cause: e }));
      pending.clear();
    });
    w.unref();
    return w;
  });
  // Checks asked for in one turn of the event loop go to the workers as one message per worker.
  let queue: string[] = [];
  let next = 0;
  let seq = 0;
  const flush = () => {
    const flat = queue;
    queue = [];
    const jobs = flat.length / 4;
    const per = Math.ceil(jobs / workers.length) * 4;
    for (let k = 0; k < flat.length; k += per) workers[next++ % workers.length]?.postMessage(flat.slice(k, k + per));
  };
  const verifyAsync = (str: string, signature: string, publicKeyBase64: string): Promise<boolean> =>
    new Promise((resolve, reject) => {
      const id = seq++;
      // Idle workers do not keep the process alive; workers with checks in flight do.
      if (pending.size === 0) for (const x of workers) x.ref();
      pending.set(id, { resolve, reject });
      if (queue.length === 0) setImmediate(flush);
      queue.push(String(id), str, signature, publicKeyBase64);
    });
  return {
    threads,
    check: async (body, created, expires, signature, publicKeyBase64) => {
      const digest = blake512Base64(body);
      return (await verifyAsync(signingString(created, expires, digest), signature, publicKeyBase64))
        ? digest
        : undefined;
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
      for (const p of pending.values()) p.reject(new FlexError('FLX_INTERNAL', 'the signature worker pool was closed'));
      pending.clear();
    },
  };
};
