import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * SQLite WAL checkpoints on a worker thread with its own connection. SQLite checkpoints on the connection whose
 * commit pushed the WAL past `wal_autocheckpoint` pages, i.e. on the event loop: copying ~1000 pages back into
 * the database file (and two fsyncs) stalled one KV put in seventy for ~8 ms, most of a put's commit cost.
 *
 * The worker copies committed frames with PASSIVE checkpoints, which never block the writer. Under a steady
 * write load they never quite reach the end of the WAL, and SQLite only starts the WAL over once a checkpoint
 * has, so the file would grow without end. Past RESTART_FRAMES the worker says so; between two write
 * transactions the writer then holds its connection (no write starts there; compiled reads go on) while the
 * worker finishes the checkpoint, and the next commit starts the WAL over. Finishing it on the event loop
 * instead cost ~13 ms each time (the fsyncs), ~20 µs per put. The writing connection keeps a high
 * `wal_autocheckpoint` as a backstop should the worker die.
 *
 * The worker (a thread and ~10 MiB) only runs while writes are frequent: it starts once BUSY_COMMITS commits
 * land within a second and ends after IDLE_MS without one. Otherwise the writing connection checkpoints as
 * SQLite does by default, every DEFAULT_AUTOCHECKPOINT_PAGES: a rare, short stall for a node that writes
 * little.
 */

/** The main connection's own backstop while the worker runs, in pages (4 KiB): far above the WAL it keeps. */
const BACKSTOP_AUTOCHECKPOINT_PAGES = 16_384;
/** SQLite's default: the writing connection checkpoints itself while no worker runs. */
export const DEFAULT_AUTOCHECKPOINT_PAGES = 1_000;

/** What the WAL file is cut back to once restarted (SQLite's `journal_size_limit`). */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

const TICK_MS = 25;
const RESTART_FRAMES = 4_096;
/** Ticks before asking again while the WAL stays long. */
const ASK_AGAIN_TICKS = 40;
/** The longest the writer holds its write transactions back for the worker to finish. */
const MAX_PAUSE_MS = 500;
const IDLE_MS = 5_000;
const BUSY_COMMITS = 32;
const BUSY_WINDOW_MS = 1_000;

// Plain JavaScript, so the worker runs the same from the TypeScript sources (tests) and from dist.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)')[0];
let stopped = false;
let sinceAsked = Infinity;
function tick() {
  if (stopped) return;
  try {
    const { log } = checkpoint();
    // Ask once per long WAL, and again a while later if it stays long (a reader, an export say, held frames).
    sinceAsked++;
    if (log < workerData.restartFrames) sinceAsked = Infinity;
    else if (sinceAsked >= workerData.askAgainTicks) {
      sinceAsked = 0;
      parentPort.postMessage('pause-writes');
    }
  } catch {
    // Retried on the next tick (a full disk, say); the writing connection's backstop still applies.
  }
  setTimeout(tick, workerData.tickMs);
}
parentPort.on('message', (message) => {
  if (message === 'finish') {
    // The writer is holding its transactions back: copy what is left, so its next commit restarts the WAL.
    try {
      checkpoint();
    } catch {}
    parentPort.postMessage('finished');
  } else if (message === 'stop') {
    stopped = true;
    db.close();
    parentPort.postMessage('stopped');
  }
});
tick();
`;

export class WalCheckpointer {
  #worker: Worker | undefined;
  #stopping: Promise<void> | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #pauseWanted = false;
  #resume: (() => void) | undefined;
  #windowStart = 0;
  #commitsInWindow = 0;

  /** `autocheckpoint` sets the writing connection's `wal_autocheckpoint`. */
  constructor(
    private readonly file: string,
    private readonly writer: { autocheckpoint(pages: number): void },
  ) {
    writer.autocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
  }

  /** Whether a worker is checkpointing now. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /**
   * Between two write transactions: when the WAL has grown long, hold the writing connection (`hold` runs its
   * argument while no other write can start there) until the worker has finished checkpointing, at most
   * MAX_PAUSE_MS, so the next commit starts the WAL over.
   */
  async betweenWrites(hold: (during: () => Promise<void>) => Promise<void>): Promise<void> {
    const worker = this.#worker;
    if (!this.#pauseWanted || !worker) return;
    this.#pauseWanted = false;
    await hold(
      () =>
        new Promise<void>((resolve) => {
          const resume = () => {
            clearTimeout(timer);
            this.#resume = undefined;
            resolve();
          };
          const timer = setTimeout(resume, MAX_PAUSE_MS);
          this.#resume = resume;
          worker.postMessage('finish');
        }),
    );
  }

  /** A write committed: keep a running worker alive for another IDLE_MS, or start one if writes are frequent. */
  wrote(): void {
    if (this.#closed) return;
    if (this.#worker) {
      this.#idleTimer?.refresh();
      return;
    }
    const now = performance.now();
    if (now - this.#windowStart > BUSY_WINDOW_MS) {
      this.#windowStart = now;
      this.#commitsInWindow = 0;
    }
    if (++this.#commitsInWindow >= BUSY_COMMITS && !this.#stopping) this.#worker = this.#start();
  }

  #start(): Worker {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, file: this.file, tickMs: TICK_MS, restartFrames: RESTART_FRAMES, askAgainTicks: ASK_AGAIN_TICKS },
    });
    worker.unref();
    worker.on('message', (message) => {
      if (message === 'pause-writes') this.#pauseWanted = true;
      else if (message === 'finished') this.#resume?.();
    });
    worker.on('error', () => this.#forget(worker));
    worker.on('exit', () => this.#forget(worker));
    this.#idleTimer = setTimeout(() => void this.#stop(), IDLE_MS);
    this.#idleTimer.unref();
    this.writer.autocheckpoint(BACKSTOP_AUTOCHECKPOINT_PAGES);
    return worker;
  }

  /** A worker that failed: the writing connection checkpoints by itself again until the next one starts. */
  #forget(worker: Worker): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#resume?.();
    clearTimeout(this.#idleTimer);
    if (!this.#closed) this.writer.autocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
  }

  /** Ask the worker to close its connection (so the main connection's close can checkpoint and drop the WAL). */
  #stop(): Promise<void> {
    clearTimeout(this.#idleTimer);
    const worker = this.#worker;
    if (!worker) return this.#stopping ?? Promise.resolve();
    this.#worker = undefined;
    this.#resume?.();
    this.#commitsInWindow = 0;
    if (!this.#closed) this.writer.autocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
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
