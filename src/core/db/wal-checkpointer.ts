import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * SQLite WAL checkpoints on a worker thread with its own connection. SQLite checkpoints on the connection whose
 * commit pushed the WAL past `wal_autocheckpoint` pages, i.e. on the event loop: copying ~1000 pages back into
 * the database file (and two fsyncs) stalled one KV put in seventy for ~8 ms, most of a put's commit cost.
 *
 * The worker copies committed frames with PASSIVE checkpoints, which never block the writer. Under a steady
 * write load they never quite reach the end of the WAL, and SQLite only starts the WAL over once a checkpoint
 * has, so the file would grow without end. Past RESTART_FRAMES the worker says so, and the writing connection
 * runs one PASSIVE checkpoint itself between two write transactions (`betweenWrites`): with no writer running it
 * reaches the end (the frames are mostly copied by then), and the next commit starts the WAL over. The main
 * connection keeps a high `wal_autocheckpoint` as a backstop should the worker die.
 *
 * The worker starts with the first write and ends after IDLE_MS without one, so an idle node keeps no thread.
 */

/** The main connection's own backstop, in pages (4 KiB): the worker normally keeps the WAL far below it. */
export const BACKSTOP_AUTOCHECKPOINT_PAGES = 16_384;

/** What the WAL file is cut back to once restarted (SQLite's `journal_size_limit`). */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

const TICK_MS = 25;
const RESTART_FRAMES = 4_096;
/** Frames the writing connection may have to copy itself when it catches the WAL up. */
const LEFT_FRAMES = 256;
const IDLE_MS = 10_000;

// Plain JavaScript, so the worker runs the same from the TypeScript sources (tests) and from dist.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
let stopped = false;
let asked = false;
function tick() {
  if (stopped) return;
  try {
    const { log, checkpointed } = db.pragma('wal_checkpoint(PASSIVE)')[0];
    // Ask once per long WAL, and only when little is left to copy: the writer does that part on its own thread.
    if (log < workerData.restartFrames) asked = false;
    else if (!asked && log - checkpointed <= workerData.leftFrames) {
      asked = true;
      parentPort.postMessage('restart');
    }
  } catch {
    // Retried on the next tick (a full disk, say); the main connection's backstop still applies.
  }
  setTimeout(tick, workerData.tickMs);
}
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  stopped = true;
  db.close();
  parentPort.postMessage('stopped');
});
tick();
`;

export class WalCheckpointer {
  #worker: Worker | undefined;
  #stopping: Promise<void> | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #restartWanted = false;

  /** `checkpointHere` runs a PASSIVE checkpoint on the writing connection, unless a transaction is open there. */
  constructor(
    private readonly file: string,
    private readonly checkpointHere: () => void,
  ) {}

  /** Between two write transactions: when the WAL has grown long, catch it up so the next commit restarts it. */
  betweenWrites(): void {
    if (!this.#restartWanted) return;
    this.#restartWanted = false;
    this.checkpointHere();
  }

  /** A write committed: make sure a worker is checkpointing, and keep it alive for another IDLE_MS. */
  wrote(): void {
    if (this.#closed) return;
    if (!this.#worker && !this.#stopping) this.#worker = this.#start();
    this.#idleTimer?.refresh();
  }

  #start(): Worker {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, file: this.file, tickMs: TICK_MS, restartFrames: RESTART_FRAMES, leftFrames: LEFT_FRAMES },
    });
    worker.unref();
    worker.on('message', (message) => {
      if (message === 'restart') this.#restartWanted = true;
    });
    worker.on('error', () => this.#forget(worker));
    worker.on('exit', () => this.#forget(worker));
    this.#idleTimer = setTimeout(() => void this.#stop(), IDLE_MS);
    this.#idleTimer.unref();
    return worker;
  }

  #forget(worker: Worker): void {
    if (this.#worker === worker) this.#worker = undefined;
  }

  /** Ask the worker to close its connection (so the main connection's close can checkpoint and drop the WAL). */
  #stop(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const worker = this.#worker;
    if (!worker) return this.#stopping ?? Promise.resolve();
    this.#worker = undefined;
    const stopping = new Promise<void>((resolve) => {
      const done = () => resolve();
      worker.on('message', (message) => message === 'stopped' && void worker.terminate().then(done, done));
      worker.once('exit', done);
      worker.postMessage('stop');
    }).finally(() => {
      if (this.#stopping === stopping) this.#stopping = undefined;
    });
    this.#stopping = stopping;
    return stopping;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#stop();
  }
}
