import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * BLAKE3 of large bodies on a worker thread. Hashing (~800 MB/s on one core here) and receiving + writing a
 * body (~800 MB/s) each take a core's worth of time; on the event loop they add up to ~400 MB/s, on two threads
 * they overlap. Bytes are copied into 512 KiB batches that travel to the worker and back (transferred, never
 * cloned), at most BATCHES_IN_FLIGHT per body. One worker serves every body; it starts with the first large body
 * and ends after IDLE_MS without one, so an idle node keeps no thread (nor its ~10 MiB).
 */

const BATCH_BYTES = 512 * 1024;
const BATCHES_IN_FLIGHT = 3;
const IDLE_MS = 1000;

// Plain JavaScript, so the worker runs the same from the TypeScript sources (tests) and from dist.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createBLAKE3 } = require(workerData.hashWasm);
const hashers = new Map();
const idle = [];
async function handle(m) {
  if (m.op === 'open') {
    const hasher = idle.pop() ?? (await createBLAKE3(256));
    hasher.init();
    hashers.set(m.id, hasher);
  } else if (m.op === 'update') {
    hashers.get(m.id)?.update(new Uint8Array(m.buffer, 0, m.length));
    parentPort.postMessage({ op: 'returned', id: m.id, buffer: m.buffer }, [m.buffer]);
  } else {
    const hasher = hashers.get(m.id);
    hashers.delete(m.id);
    if (m.op === 'digest') parentPort.postMessage({ op: 'digest', id: m.id, digest: hasher.digest('binary') });
    if (idle.length < 16) idle.push(hasher);
  }
}
let chain = Promise.resolve();
parentPort.on('message', (m) => {
  chain = chain.then(() => handle(m)).catch((error) => parentPort.postMessage({ op: 'failed', id: m.id, message: String(error) }));
});
`;

type Reply =
  | { op: 'returned'; id: number; buffer: ArrayBuffer }
  | { op: 'digest'; id: number; digest: Uint8Array }
  | { op: 'failed'; id: number; message: string };

interface Session {
  onReply(reply: Reply): void;
  onFailure(error: Error): void;
}

let worker: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
let nextId = 1;
const sessions = new Map<number, Session>();

function start(): Worker {
  if (worker) return worker;
  const hashWasm = createRequire(import.meta.url).resolve('hash-wasm');
  const started = new Worker(WORKER_SOURCE, { eval: true, workerData: { hashWasm } });
  started.unref();
  started.on('message', (reply: Reply) => sessions.get(reply.id)?.onReply(reply));
  const fail = (error: Error) => {
    if (worker !== started) return;
    worker = undefined;
    const failed = [...sessions.values()];
    sessions.clear();
    for (const session of failed) session.onFailure(error);
  };
  started.on('error', fail);
  started.on('exit', (code) => fail(new Error(`BLAKE3 worker exited with code ${code}`)));
  worker = started;
  return started;
}

function open(session: Session): { id: number; post: (message: object, transfer?: ArrayBuffer[]) => void; close: () => void } {
  clearTimeout(idleTimer);
  const thread = start();
  // Referenced while it owes an answer: an in-process command must not exit with a digest pending.
  thread.ref();
  const id = nextId++;
  sessions.set(id, session);
  return {
    id,
    post: (message, transfer) => thread.postMessage({ ...message, id }, transfer),
    close() {
      sessions.delete(id);
      if (sessions.size === 0 && worker === thread) {
        thread.unref();
        idleTimer = setTimeout(() => {
          if (sessions.size === 0 && worker === thread) {
            worker = undefined;
            void thread.terminate();
          }
        }, IDLE_MS);
        idleTimer.unref();
      }
    },
  };
}

/** An incremental BLAKE3-256 hash computed on the worker; `update` may wait while too much is in flight. */
export interface ThreadHasher {
  update(chunk: Uint8Array): Promise<void>;
  digest(): Promise<Uint8Array>;
  /** Give up (the body failed): frees the worker's hasher. */
  abort(): void;
}

export function createThreadHasher(): ThreadHasher {
  const free: Buffer[] = [];
  let allocated = 0;
  let current: Buffer | undefined;
  let filled = 0;
  let failure: Error | undefined;
  let waitingForBuffer: (() => void) | undefined;
  let digested: { resolve: (digest: Uint8Array) => void; reject: (error: Error) => void } | undefined;
  let done = false;

  const channel = open({
    onReply(reply) {
      if (reply.op === 'returned') {
        free.push(Buffer.from(reply.buffer));
        waitingForBuffer?.();
      } else if (reply.op === 'digest') {
        finish();
        digested?.resolve(new Uint8Array(reply.digest));
      } else this.onFailure(new Error(`BLAKE3 worker: ${reply.message}`));
    },
    onFailure(error) {
      failure = error;
      finish();
      waitingForBuffer?.();
      digested?.reject(error);
    },
  });
  channel.post({ op: 'open' });

  function finish(): void {
    if (done) return;
    done = true;
    channel.close();
  }

  async function buffer(): Promise<Buffer> {
    for (;;) {
      if (failure) throw failure;
      const reused = free.pop();
      if (reused) return reused;
      if (allocated < BATCHES_IN_FLIGHT) {
        allocated++;
        return Buffer.allocUnsafeSlow(BATCH_BYTES);
      }
      await new Promise<void>((resolve) => (waitingForBuffer = resolve));
      waitingForBuffer = undefined;
    }
  }

  function send(): void {
    if (!current || filled === 0) return;
    const batch = current;
    channel.post({ op: 'update', buffer: batch.buffer, length: filled }, [batch.buffer as ArrayBuffer]);
    current = undefined;
    filled = 0;
  }

  return {
    async update(chunk) {
      let at = 0;
      while (at < chunk.length) {
        current ??= await buffer();
        const n = Math.min(chunk.length - at, BATCH_BYTES - filled);
        current.set(chunk.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === BATCH_BYTES) send();
      }
    },
    digest() {
      if (failure) return Promise.reject(failure);
      send();
      return new Promise((resolve, reject) => {
        digested = { resolve, reject };
        channel.post({ op: 'digest' });
      });
    },
    abort() {
      if (done) return;
      channel.post({ op: 'abort' });
      finish();
    },
  };
}
