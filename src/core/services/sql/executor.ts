/**
 * An SQL executor: a child process of the node (`executors.ts` forks it) that prepares, profiles, authorizes
 * and runs the statements of one invocation at a time, on its own connections to the per-space databases.
 * better-sqlite3 has no interrupt or progress handler and a worker thread cannot be stopped while SQLite is in
 * `sqlite3_step`, so the node's only way to stop a statement that does not end is to SIGKILL this process;
 * SQLite's WAL leaves the database as it was before the unfinished transaction.
 */
import { Worker } from 'node:worker_threads';
import { TinyCloudError } from '../../errors.js';
import { emptyDatabase, HandleCache, type Connection, type SqlHandle } from './connections.js';
import {
  decodeGrant,
  decodeValue,
  encodeError,
  type ExecutorSettings,
  type FromExecutor,
  type Job,
  type JobResult,
  type ReadJob,
  type ReadResult,
  type ToExecutor,
  type WireInput,
  type WriteJob,
  type WriteResult,
} from './protocol.js';
import { assertStatementsRead, combine, executeStatement, prepareStatement, readAll, translate, type Prepared, type StatementInput } from './statements.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as Partial<ExecutorSettings>;
const send = (message: FromExecutor): void => {
  process.send?.(message);
};
const cache = new HandleCache(settings.maxOpen ?? 64, settings.idleMs ?? 60_000, (open) => send({ open }));
/** The database whose write transaction waits for the node's `finish`. */
let pending: SqlHandle | undefined;

const inputsOf = (inputs: WireInput[]): StatementInput[] => inputs.map((i) => ({ sql: i.sql, params: i.params.map(decodeValue) }));
const sizeOf = (conn: Connection): number =>
  Number(conn.db.pragma('page_count', { simple: true })) * Number(conn.db.pragma('page_size', { simple: true }));

function read(job: ReadJob): ReadResult {
  const conn = job.file === null ? emptyDatabase() : cache.open(job.file, false).handle.reader;
  const grants = job.grants.map(decodeGrant);
  const inputs = inputsOf(job.inputs);
  if (job.check) assertStatementsRead(conn, decodeGrant(job.check));
  if (job.probe) {
    // A holder who could write takes the read path only when SQLite says this statement only reads.
    const prepared = prepareStatement(conn, inputs[0] as StatementInput, grants, job.options.named, true);
    if (!prepared || prepared.profile.kind !== 'read' || !prepared.profile.readonly) return { body: null };
  }
  return { body: readAll(conn, inputs, grants, job.output, job.options) };
}

function write(job: WriteJob): WriteResult {
  const { handle } = cache.open(job.file, true);
  const conn = handle.writer;
  const grants = job.grants.map(decodeGrant);
  const inputs = inputsOf(job.inputs);
  const { named, lastOnly } = job.options;
  try {
    if (job.check) assertStatementsRead(handle.reader, decodeGrant(job.check));
    // Nothing else writes this database while the node holds its lock, so the first statement's profile holds.
    const first = prepareStatement(conn, inputs[0] as StatementInput, grants, named, false) as Prepared;
    if (first.profile.outsideTransaction) {
      if (inputs.length > 1) throw new TinyCloudError('SQL_INVALID', 'VACUUM and PRAGMA wal_checkpoint must be sent alone');
      const done = executeStatement(conn, first, inputs[0] as StatementInput, job.output, job.options);
      const body = combine([done.json], job.output, lastOnly);
      return { body, mutated: done.mutated, ...(done.mutated && { size: sizeOf(conn) }), pending: false };
    }
    conn.db.exec('BEGIN IMMEDIATE');
    let mutated = false;
    const results: string[] = [];
    for (const [index, input] of inputs.entries()) {
      const prepared = index === 0 ? first : (prepareStatement(conn, input, grants, named, false) as Prepared);
      if (prepared.profile.outsideTransaction) throw new TinyCloudError('SQL_INVALID', 'VACUUM and PRAGMA wal_checkpoint must be sent alone');
      const done = executeStatement(conn, prepared, input, job.output, job.options);
      mutated ||= done.mutated;
      results.push(done.json);
    }
    const body = combine(results, job.output, lastOnly);
    if (!mutated) {
      conn.db.exec('COMMIT');
      return { body, mutated, pending: false };
    }
    // The node records the invocation's event (and checks the quota) before this transaction commits.
    handle.pinned = true;
    pending = handle;
    return { body, mutated, size: sizeOf(conn), pending: true };
  } catch (error) {
    if (conn.db.inTransaction) conn.db.exec('ROLLBACK');
    throw error;
  }
}

function finish(action: 'commit' | 'rollback'): JobResult {
  const handle = pending;
  if (!handle) throw new Error('no write transaction is waiting');
  pending = undefined;
  handle.pinned = false;
  handle.lastUsed = Date.now();
  const db = handle.writer.db;
  try {
    if (action === 'commit') db.exec('COMMIT');
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
  }
  return {};
}

function run(job: Job): JobResult {
  switch (job.op) {
    case 'read':
      return read(job);
    case 'write':
      return write(job);
    case 'finish':
      return finish(job.action);
    case 'discard':
      cache.discard(job.file);
      return {};
  }
}

function shutdown(): never {
  // Closing rolls back a transaction still waiting for `finish`.
  cache.close();
  process.exit(0);
}

process.on('message', (message: ToExecutor) => {
  if ('close' in message) shutdown();
  const { id, job } = message;
  try {
    send({ id, ok: true, result: run(job) });
  } catch (error) {
    send({ id, ok: false, error: encodeError(translate(error)) });
  }
});
// The node closed the channel (it exited or was killed): nothing will ever be committed from here.
process.on('disconnect', shutdown);
// A terminal's Ctrl-C or a service manager signals the whole process group; the node closes its executors itself.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {});

// If the node dies while this process is inside a statement that never ends, `disconnect` is never handled:
// a watchdog thread (it runs while the main thread is in SQLite) ends the orphan as soon as it is re-parented.
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads');
   setInterval(() => { if (process.ppid !== workerData) process.kill(process.pid, 'SIGKILL'); }, 500);`,
  { eval: true, workerData: process.ppid, execArgv: [] },
);
watchdog.unref();

send({ ready: true });
