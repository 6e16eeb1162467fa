/**
 * Ed25519 off the event loop: agent signature checks and the sequencer's receipt signatures, the
 * larger part of an ingested event's CPU (OpenSSL: ~120 us per verify, ~40 us per sign, against
 * ~70 us on the main thread for parsing, checks, hashing, the insert and the response). A
 * batch's signatures are split across worker threads while the main thread keeps serving;
 * receipt signing (the sequencer seed is handed to the workers in memory) runs there too, ahead
 * of verification queued for later requests. With 0 threads everything runs inline.
 */
import { Worker } from 'node:worker_threads';
import { ed25519NativeSigner, ed25519VerifyNative } from './ed25519-native.js';

export interface VerifyItem {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
}

export interface Ed25519Pool {
  readonly threads: number;
  verifyMany(items: readonly VerifyItem[]): Promise<boolean[]>;
  /** Ed25519 signatures with the pool's seed over 32-byte messages (receipt hashes). */
  signMany(messages: readonly Uint8Array[]): Promise<Uint8Array[]>;
  close(): Promise<void>;
}

// Plain JavaScript with node:crypto only, so it runs the same from sources and from dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPrivateKey, createPublicKey, sign, verify } = require('node:crypto');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8 = Buffer.from('302e020100300506032b657004220420', 'hex');
const secret = workerData.seed === null ? null
  : createPrivateKey({ key: Buffer.concat([PKCS8, Buffer.from(workerData.seed)]), format: 'der', type: 'pkcs8' });
const keys = new Map();
const keyOf = (raw) => {
  const id = raw.toString('hex');
  let key = keys.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.concat([SPKI, raw]), format: 'der', type: 'spki' });
    if (keys.size > 10000) keys.clear();
    keys.set(id, key);
  }
  return key;
};
parentPort.on('message', ({ id, count, sigs, msgs, pubs }) => {
  if (pubs === undefined) {
    const out = new Uint8Array(count * 64);
    const m = Buffer.from(msgs);
    for (let i = 0; i < count; i++) out.set(sign(null, m.subarray(i * 32, i * 32 + 32), secret), i * 64);
    parentPort.postMessage({ id, valid: out }, [out.buffer]);
    return;
  }
  const valid = new Uint8Array(count);
  const s = Buffer.from(sigs), m = Buffer.from(msgs), p = Buffer.from(pubs);
  for (let i = 0; i < count; i++) {
    try {
      valid[i] = verify(null, m.subarray(i * 32, i * 32 + 32), keyOf(p.subarray(i * 32, i * 32 + 32)), s.subarray(i * 64, i * 64 + 64)) ? 1 : 0;
    } catch {
      valid[i] = 0;
    }
  }
  parentPort.postMessage({ id, valid }, [valid.buffer]);
});
`;

interface Pending {
  resolve: (valid: Uint8Array) => void;
  reject: (error: Error) => void;
}

interface Job extends Pending {
  message: Record<string, unknown>;
  transfer: ArrayBuffer[];
}

export function startEd25519Pool(threads: number, seed?: Uint8Array): Ed25519Pool {
  const inlineSign = seed === undefined ? undefined : ed25519NativeSigner(seed);
  const noSeed = () => new Error('this Ed25519 pool was started without a signing seed');
  if (threads <= 0)
    return {
      threads: 0,
      verifyMany: async (items) =>
        items.map((i) => ed25519VerifyNative(i.signature, i.message, i.publicKey)),
      signMany: async (messages) => {
        if (inlineSign === undefined) throw noSeed();
        return messages.map((m) => inlineSign(m));
      },
      close: async () => {},
    };
  const workers = Array.from({ length: threads }, () => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { seed: seed === undefined ? null : Uint8Array.from(seed) },
    });
    const entry = { worker, pending: new Map<number, Pending>(), dead: false };
    worker.on('message', ({ id, valid }: { id: number; valid: Uint8Array }) => {
      entry.pending.get(id)?.resolve(valid);
      entry.pending.delete(id);
      dispatch();
    });
    worker.on('error', (error) => {
      entry.dead = true;
      for (const p of entry.pending.values()) p.reject(error);
      entry.pending.clear();
      dispatch();
    });
    worker.unref();
    return entry;
  });
  // Jobs wait here, not in the workers' FIFO message queues, so receipt signing (the last step of
  // a request that already holds its sequence numbers) goes ahead of verification for requests
  // that arrived later: that keeps batch latency from piling up behind other batches' checks.
  // Two jobs per worker at most: one running, one ready, so a worker never waits on the main thread.
  const urgent: Job[] = [];
  const normal: Job[] = [];
  let nextId = 0;
  const dispatch = () => {
    for (;;) {
      const job = urgent[0] ?? normal[0];
      if (job === undefined) return;
      let target: (typeof workers)[number] | undefined;
      for (const w of workers)
        if (
          !w.dead &&
          w.pending.size < 2 &&
          (target === undefined || w.pending.size < target.pending.size)
        )
          target = w;
      if (target === undefined) {
        if (workers.every((w) => w.dead)) {
          for (const j of [...urgent.splice(0), ...normal.splice(0)])
            j.reject(new Error('every Ed25519 worker thread has died'));
        }
        return;
      }
      (job === urgent[0] ? urgent : normal).shift();
      const id = nextId++;
      target.pending.set(id, job);
      target.worker.postMessage({ id, ...job.message }, job.transfer);
    }
  };
  const post = (
    message: Record<string, unknown>,
    transfer: ArrayBuffer[],
    isUrgent = false,
  ): Promise<Uint8Array> =>
    new Promise((resolve, reject) => {
      (isUrgent ? urgent : normal).push({ message, transfer, resolve, reject });
      dispatch();
    });
  const run = (items: readonly VerifyItem[]): Promise<Uint8Array> => {
    const n = items.length;
    const sigs = new Uint8Array(n * 64);
    const msgs = new Uint8Array(n * 32);
    const pubs = new Uint8Array(n * 32);
    for (let i = 0; i < n; i++) {
      const it = items[i] as VerifyItem;
      if (it.signature.length !== 64 || it.message.length !== 32 || it.publicKey.length !== 32)
        return Promise.reject(
          new Error('verify items need 64-byte signatures, 32-byte messages and keys'),
        );
      sigs.set(it.signature, i * 64);
      msgs.set(it.message, i * 32);
      pubs.set(it.publicKey, i * 32);
    }
    return post({ count: n, sigs, msgs, pubs }, [sigs.buffer, msgs.buffer, pubs.buffer]);
  };
  return {
    threads,
    verifyMany: async (items) => {
      if (items.length === 0) return [];
      const chunk = Math.ceil(items.length / threads);
      const parts: Promise<Uint8Array>[] = [];
      for (let i = 0; i < items.length; i += chunk) parts.push(run(items.slice(i, i + chunk)));
      const results = await Promise.all(parts);
      return results.flatMap((r) => Array.from(r, (v) => v === 1));
    },
    signMany: async (messages) => {
      if (seed === undefined) throw noSeed();
      if (messages.length === 0) return [];
      const chunk = Math.ceil(messages.length / threads);
      const parts: Promise<Uint8Array>[] = [];
      for (let i = 0; i < messages.length; i += chunk) {
        const slice = messages.slice(i, i + chunk);
        const msgs = new Uint8Array(slice.length * 32);
        slice.forEach((m, j) => {
          if (m.length !== 32) throw new Error('receipt hashes must be 32 bytes');
          msgs.set(m, j * 32);
        });
        parts.push(post({ count: slice.length, msgs }, [msgs.buffer], true));
      }
      const results = await Promise.all(parts);
      return results.flatMap((r) =>
        Array.from({ length: r.length / 64 }, (_, j) => r.slice(j * 64, j * 64 + 64)),
      );
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
