import { Worker } from 'node:worker_threads';
import { verifyEd25519 } from './ed25519.js';

/**
 * Ed25519 verification on worker threads: every authorized request pays one, the largest single cost of an
 * invocation, and one event loop can only use one core. Jobs arriving in one turn of the event loop go to a
 * worker as one transferred buffer (`key ‖ signature ‖ length ‖ message` per job) and come back as one byte per
 * job, so the messaging cost is paid per batch, not per request.
 */

// Plain JavaScript so the worker runs the same from the TypeScript sources (tests) and from dist.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const MAX_KEYS = 4096;
let keys = new Map();
function keyOf(raw) {
  const id = raw.toString('base64');
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys = new Map();
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    keys.set(id, key);
  }
  return key;
}
parentPort.on('message', ({ batch, count, jobs }) => {
  const bytes = Buffer.from(jobs);
  const results = new Uint8Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const key = bytes.subarray(at, at + 32);
    const signature = bytes.subarray(at + 32, at + 96);
    const length = bytes.readUInt32LE(at + 96);
    const message = bytes.subarray(at + 100, at + 100 + length);
    at += 100 + length;
    try {
      results[i] = verify(null, message, keyOf(key), signature) ? 1 : 0;
    } catch {
      results[i] = 0;
    }
  }
  parentPort.postMessage({ batch, results }, [results.buffer]);
});
`;

interface Job {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
  readonly resolve: (valid: boolean) => void;
}

interface Lane {
  readonly worker: Worker;
  readonly inFlight: Map<number, Job[]>;
}

/** Jobs per message: large enough to amortize messaging, small enough to spread a burst over the workers. */
const MAX_BATCH = 4;

/** Workers start on the first verification, so a node opened by a CLI command never spawns one. */
export class Ed25519VerifyPool {
  #lanes: Lane[] = [];
  #queue: Job[] = [];
  #scheduled = false;
  #nextBatch = 0;
  #nextLane = 0;
  #closed = false;

  constructor(readonly threads: number) {
    if (!(threads >= 1)) throw new RangeError('an Ed25519 verify pool needs at least one thread');
  }

  #lane(): Lane {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    const lane: Lane = { worker, inFlight: new Map() };
    worker.on('message', ({ batch, results }: { batch: number; results: Uint8Array }) => {
      const jobs = lane.inFlight.get(batch);
      lane.inFlight.delete(batch);
      jobs?.forEach((job, i) => job.resolve(results[i] === 1));
    });
    worker.on('error', () => this.#fail(lane));
    worker.on('exit', () => this.#fail(lane));
    return lane;
  }

  /** A worker that died takes no more jobs; its pending ones are verified here, on the caller's thread. */
  #fail(lane: Lane): void {
    const index = this.#lanes.indexOf(lane);
    if (index >= 0 && !this.#closed) this.#lanes[index] = this.#lane();
    for (const jobs of lane.inFlight.values()) for (const job of jobs) this.#verifyHere(job);
    lane.inFlight.clear();
  }

  #verifyHere(job: Job): void {
    job.resolve(verifyEd25519(job.publicKey, job.message, job.signature));
  }

  /** RFC 8032 verification of a raw 32-byte key's signature on a worker thread. */
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (publicKey.length !== 32 || signature.length !== 64) return Promise.resolve(false);
    return new Promise((resolve) => {
      const job = { publicKey, message, signature, resolve };
      if (this.#closed) return this.#verifyHere(job);
      this.#queue.push(job);
      if (this.#queue.length >= MAX_BATCH) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const jobs = this.#queue;
    if (jobs.length === 0) return;
    this.#queue = [];
    const size = jobs.reduce((n, job) => n + 100 + job.message.length, 0);
    const packed = Buffer.allocUnsafeSlow(size);
    let at = 0;
    for (const job of jobs) {
      packed.set(job.publicKey, at);
      packed.set(job.signature, at + 32);
      packed.writeUInt32LE(job.message.length, at + 96);
      packed.set(job.message, at + 100);
      at += 100 + job.message.length;
    }
    if (this.#lanes.length === 0) this.#lanes = Array.from({ length: this.threads }, () => this.#lane());
    const lane = this.#lanes[this.#nextLane++ % this.#lanes.length] as Lane;
    const batch = this.#nextBatch++;
    lane.inFlight.set(batch, jobs);
    lane.worker.postMessage({ batch, count: jobs.length, jobs: packed.buffer }, [packed.buffer]);
  }

  /** Stops the workers; jobs still in flight, and any later ones, are verified on the caller's thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    await Promise.all(this.#lanes.map((lane) => lane.worker.terminate()));
  }
}
