import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * SQLite work of a CAR export or import that takes time in proportion to a database's size (`VACUUM INTO`,
 * `PRAGMA quick_check`) runs on a worker thread: better-sqlite3 is synchronous, and `serve` answers other
 * requests meanwhile. One short-lived thread per job; the job's files are the only thing it touches.
 */

/** better-sqlite3's entry point, resolved here so the worker finds it wherever the node was started from. */
const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

// Plain JavaScript so the worker runs the same from the TypeScript sources (tests) and from dist.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
async function run(job) {
  if (job.op === 'backup') {
    const source = new Database(job.source, { readonly: true, fileMustExist: true });
    try {
      await source.backup(job.target);
    } finally {
      source.close();
    }
    // A WAL database commits without fsync here (better-sqlite3 builds with WAL synchronous = NORMAL): a
    // checkpoint syncs the log first, so the copy is durable once this answers.
    const target = new Database(job.target, { fileMustExist: true });
    try {
      target.pragma('busy_timeout = 10000');
      if (target.pragma('journal_mode', { simple: true }) === 'wal') target.pragma('wal_checkpoint(PASSIVE)');
    } finally {
      target.close();
    }
    return {};
  }
  if (job.op === 'vacuum') {
    const db = new Database(job.source, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 10000');
      db.pragma('trusted_schema = OFF');
      db.prepare('VACUUM INTO ?').run(job.target);
    } finally {
      db.close();
    }
    return {};
  }
  if (job.op === 'check') {
    const db = new Database(job.file, { readonly: true, fileMustExist: true });
    try {
      db.pragma('trusted_schema = OFF');
      db.prepare('SELECT count(*) FROM sqlite_schema').get();
      const problems = db.pragma('quick_check(10)').map((row) => row.quick_check).filter((text) => text !== 'ok');
      return { problems };
    } finally {
      db.close();
    }
  }
  throw new Error('unknown job ' + job.op);
}
run(workerData.job).then(
  (value) => parentPort.postMessage({ ok: true, value }),
  (error) => parentPort.postMessage({ ok: false, message: String((error && error.message) || error), code: error && error.code }),
);
`;

export type SqliteJob = { op: 'vacuum' | 'backup'; source: string; target: string } | { op: 'check'; file: string };

export class SqliteJobError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

function runJob<T>(job: SqliteJob): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module: BETTER_SQLITE3, job } });
    let settled = false;
    worker.once('message', (message: { ok: true; value: T } | { ok: false; message: string; code?: string }) => {
      settled = true;
      if (message.ok) resolve(message.value);
      else reject(new SqliteJobError(message.message, message.code));
    });
    worker.once('error', (error) => {
      if (!settled) reject(error);
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`SQLite worker exited with code ${code} before answering`));
      settled = true;
    });
  });
}

/** `VACUUM INTO target` from a read-only connection to `source`: a compact copy whose layout follows the contents alone. */
export async function vacuumInto(source: string, target: string): Promise<void> {
  await runJob<object>({ op: 'vacuum', source, target });
}

/**
 * Copy `source` into `target` with SQLite's backup API: one write transaction on `target`, so connections that
 * have it open (in this process or another) see its old contents or the new ones, never a mix, and reload the
 * schema. A `target` that does not exist is created. Durable when this resolves.
 */
export async function backupInto(source: string, target: string): Promise<void> {
  await runJob<object>({ op: 'backup', source, target });
}

/** `PRAGMA quick_check` of a database file that nobody else has open: the problems SQLite reports (none when sound). */
export async function quickCheck(file: string): Promise<string[]> {
  return (await runJob<{ problems: string[] }>({ op: 'check', file })).problems;
}
