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
/** Frames the writing connection may have to copy itself when it catches the WAL up. */
const LEFT_FRAMES = 256;
/** Ticks before asking again while the WAL stays long. */
const ASK_AGAIN_TICKS = 40;
const IDLE_MS = 5_000;
const BUSY_COMMITS = 32;
const BUSY_WINDOW_MS = 1_000;

// Plain JavaScript, so the worker runs the same from the TypeScript sources (tests) and from dist.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
let stopped = false;
let sinceAsked = Infinity;
function tick() {
  if (stopped) return;
  try {
    const { log, checkpointed } = db.pragma('wal_checkpoint(PASSIVE)')[0];
    // Ask when little is left to copy (the writer does that part on its own thread), and again a while later if
    // the WAL is still long (a reader, an export say, held frames the writer could not copy).
    sinceAsked++;
    if (log < workerData.restartFrames) sinceAsked = Infinity;
    else if (sinceAsked >= workerData.askAgainTicks && log - checkpointed <= workerData.leftFrames) {
      sinceAsked = 0;
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
  #windowStart = 0;
  #commitsInWindow = 0;

  /**
   * `writer` is the writing connection: `checkpoint` runs a PASSIVE checkpoint there (unless a transaction is
   * open), `autocheckpoint` sets its `wal_autocheckpoint`.
   */
  constructor(
    private readonly file: string,
    private readonly writer: { checkpoint(): void; autocheckpoint(pages: number): void },
  ) {
    writer.autocheckpoint(DEFAULT_AUTOCHECKPOINT_PAGES);
  }

  /** Whether a worker is checkpointing now. */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  /** Between two write transactions: when the WAL has grown long, catch it up so the next commit restarts it. */
  betweenWrites(): void {
    if (!this.#restartWanted) return;
    this.#restartWanted = false;
    this.writer.checkpoint();
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
      workerData: { driver, file: this.file, tickMs: TICK_MS, restartFrames: RESTART_FRAMES, leftFrames: LEFT_FRAMES, askAgainTicks: ASK_AGAIN_TICKS },
    });
    worker.unref();
    worker.on('message', (message) => {
      if (message === 'restart') this.#restartWanted = true;
    });
    worker.on('error', () => this.#forget(worker));
    worker.on('exit', () => this.#forget(worker));
    this.#idleTimer = setTimeout(() => void this.#stop(), IDLE_MS);
    this.#idleTimer.unref();
    this.writer.autocheckpoint(BACKSTOP_AUTOCHECKPOINT_PAGES);
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
