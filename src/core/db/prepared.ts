import { CompiledQuery, sql, type Compilable, type Kysely, type QueryResult, type SqliteStatement } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database>;

interface Template {
  sql: string;
  /** The compiled parameters, with each argument's slot marked by its index in `slots`. */
  parameters: readonly unknown[];
  slots: (number | undefined)[];
}

/** The one connection of a SQLite metadata DB, for running compiled queries without Kysely's executor. */
export interface DirectSqlite {
  prepare(sql: string): SqliteStatement;
  /** Whether a transaction is open on the connection (better-sqlite3's `inTransaction`). */
  readonly inTransaction: boolean;
}

// Keyed by the Kysely adapter: one per database instance, shared by its transactions.
const directConnections = new WeakMap<object, DirectSqlite>();

/**
 * Let prepared queries on `db` (a SQLite metadata DB) call the driver directly. Kysely's executor costs a few
 * microseconds and several promise hops per query, and a KV put runs about twenty of them.
 */
export function runPreparedDirectly(db: Db, connection: DirectSqlite): void {
  directConnections.set(db.getExecutor().adapter, connection);
}

const slotValue = (index: number): string => `\u0000tinycloud-prepared-argument-${index}\u0000`;

/**
 * A Kysely query built and compiled once per SQL dialect, then run with fresh argument values. Building and
 * compiling a query costs ~10x what SQLite takes to run a point look-up (~50 µs against ~5 µs here), which on
 * the request path is most of what a KV read costs.
 *
 * `build` must put every argument into the query as a plain bound value, exactly once or more, and nothing
 * else may depend on the arguments (no `in` lists, no optional clauses); `undefined` is not a value, use null.
 */
export function prepared<Args extends unknown[], Row>(
  build: (db: Db, ...args: Args) => Compilable<Row>,
): (db: Db, ...args: Args) => Promise<QueryResult<Row>> {
  // Keyed by the dialect's compiler: a transaction compiles exactly as the database it was started on.
  const templates = new WeakMap<object, Template>();
  return (db, ...args) => {
    const adapter = db.getExecutor().adapter;
    let template = templates.get(adapter);
    if (!template) {
      template = compileTemplate(build, db, args.length);
      templates.set(adapter, template);
    }
    const { sql, parameters, slots } = template;
    const bound = parameters.map((value, i) => (slots[i] === undefined ? value : args[slots[i]!]));
    const direct = directConnectionFor(db);
    if (direct) return runDirectly<Row>(direct, sql, bound);
    return db.executeQuery<Row>(CompiledQuery.raw(sql, bound));
  };
}

/** A fixed statement without parameters (a savepoint, say), on the driver directly where `prepared` would be. */
export async function runStatement(db: Db, text: string): Promise<void> {
  const direct = directConnectionFor(db);
  if (direct) await runDirectly(direct, text, []);
  else await sql.raw(text).execute(db);
}

/**
 * The connection to run on directly, if `db` has one and it is safe now: inside a transaction (`db` is one) the
 * connection is ours; outside, only while no transaction is open on it, else the query must wait for Kysely's
 * connection lock like any other.
 */
function directConnectionFor(db: Db): DirectSqlite | undefined {
  const direct = directConnections.get(db.getExecutor().adapter);
  return direct && (db.isTransaction || !direct.inTransaction) ? direct : undefined;
}

/** What Kysely's SQLite driver does with a compiled query, minus the executor around it. */
function runDirectly<Row>(connection: DirectSqlite, sql: string, parameters: readonly unknown[]): Promise<QueryResult<Row>> {
  try {
    const statement = connection.prepare(sql);
    if (statement.reader) return Promise.resolve({ rows: statement.all(parameters) as Row[] });
    const { changes, lastInsertRowid } = statement.run(parameters);
    return Promise.resolve({ rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) });
  } catch (error) {
    return Promise.reject(error);
  }
}

function compileTemplate<Args extends unknown[], Row>(build: (db: Db, ...args: Args) => Compilable<Row>, db: Db, arity: number): Template {
  const placeholders = Array.from({ length: arity }, (_, i) => slotValue(i)) as Args;
  const { sql, parameters } = build(db, ...placeholders).compile();
  const slots = parameters.map((value) => {
    const index = typeof value === 'string' ? placeholders.indexOf(value) : -1;
    return index >= 0 ? index : undefined;
  });
  for (let i = 0; i < arity; i++) {
    if (!slots.includes(i)) throw new Error(`prepared query: argument ${i} is not a bound value of ${sql}`);
  }
  return { sql, parameters, slots };
}
