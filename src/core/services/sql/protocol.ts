import { TinyCloudError, isTinyCloudError, type ErrorCode } from '../../errors.js';
import type { SqlGrant } from './authorize.js';
import type { NamedStatement, SqlCaveat } from './caveats.js';
import type { SqlBindValue } from './values.js';

/**
 * The messages between the node and its SQL executor processes (`executors.ts` ↔ `executor.ts`), over the
 * `fork` IPC channel in its JSON serialization. Bind values and grants are encoded explicitly (bigints, bytes
 * and sets do not survive JSON), and decoded back to exactly what the in-process code used.
 */

export type Output = 'rows' | 'changes' | 'auto';

export interface RunOptions {
  /** `query`'s `maxRows`: iteration stops after this many rows. */
  readonly maxRows?: number;
  /** Bytes a statement's JSON answer may take (`maxBytes`, else 10 MiB): 413 beyond. */
  readonly cap: number;
  /** Answer with the last statement's result only (`execute` with `schema`). */
  readonly lastOnly: boolean;
  /** A named statement (`executeStatement`): authorized under its one grant, as such. */
  readonly named: boolean;
}

/** A bind value on the wire: INTEGER as `{i}` (decimal), BLOB as `{b}` (base64), others as JSON. */
export type WireValue = null | number | string | { i: string } | { b: string };

export interface WireInput {
  readonly sql: string;
  readonly params: WireValue[];
}

export interface WireCaveat {
  readonly tables?: string[];
  readonly columns?: string[];
  readonly readOnly: boolean;
  readonly statements?: NamedStatement[];
  readonly constrained: boolean;
}

export interface WireGrant {
  readonly ability: string;
  readonly caveats: WireCaveat[];
}

interface StatementsJob {
  readonly inputs: WireInput[];
  readonly grants: WireGrant[];
  readonly output: Output;
  readonly options: RunOptions;
  /** A named statement's grant: its read-only statement list is checked first (`assertStatementsRead`). */
  readonly check?: WireGrant;
}

/**
 * Statements on the read-only connection; `file` null for a database that does not exist (an empty schema,
 * nothing created). With `probe`, a holder who could write: answers `{ body: null }` unless SQLite says the one
 * statement only reads.
 */
export interface ReadJob extends StatementsJob {
  readonly op: 'read';
  readonly file: string | null;
  readonly probe: boolean;
}

/**
 * Statements on the read-write connection (the node holds the database's writer lock), in `BEGIN IMMEDIATE`.
 * When something changed the transaction stays open (`pending`) until a `finish`.
 */
export interface WriteJob extends StatementsJob {
  readonly op: 'write';
  readonly file: string;
}

export type Job =
  | ReadJob
  | WriteJob
  | { readonly op: 'finish'; readonly action: 'commit' | 'rollback' }
  /** Close and delete a database the last write created but never committed. */
  | { readonly op: 'discard'; readonly file: string };

export type ReadResult = { body: string | null };

export interface WriteResult {
  body: string;
  mutated: boolean;
  /** `page_count × page_size` after the statements, when they changed something. */
  size?: number;
  /** A transaction is open, waiting for `finish`. */
  pending: boolean;
}

export type JobResult = ReadResult | WriteResult | Record<string, never>;

export interface WireError {
  /** A TinyCloud error code; absent for anything else (reported as an internal error). */
  readonly code?: ErrorCode;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

export type ToExecutor = { readonly id: number; readonly job: Job } | { readonly close: true };

export type FromExecutor =
  | { readonly ready: true }
  /** How many databases this executor holds open, sent whenever it changes. */
  | { readonly open: number }
  | { readonly id: number; readonly ok: true; readonly result: JobResult }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

/** How an executor is started: its options, as one JSON argument. */
export interface ExecutorSettings {
  readonly maxOpen: number;
  readonly idleMs: number;
}

export function encodeValue(value: SqlBindValue): WireValue {
  if (typeof value === 'bigint') return { i: value.toString() };
  if (value instanceof Uint8Array) return { b: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  return value;
}

export function decodeValue(value: WireValue): SqlBindValue {
  if (value === null || typeof value !== 'object') return value;
  if ('i' in value) return BigInt(value.i);
  return Buffer.from(value.b, 'base64');
}

/**
 * Every key a caveat has crosses to the executor: a key added to `SqlCaveat` without being carried here fails
 * to compile, and an unexpected key at run time refuses the grant, so no restriction is dropped on the way.
 */
const CARRIED = { tables: true, columns: true, readOnly: true, statements: true, constrained: true } as const satisfies Record<keyof SqlCaveat, true>;

export function encodeGrant(grant: SqlGrant): WireGrant {
  for (const caveat of grant.caveats) {
    const unknown = Object.keys(caveat).find((key) => !(key in CARRIED));
    if (unknown) throw new Error(`SQL caveat key ${unknown} cannot be sent to an executor`);
  }
  return {
    ability: grant.ability,
    caveats: grant.caveats.map((c) => ({
      ...(c.tables && { tables: [...c.tables] }),
      ...(c.columns && { columns: [...c.columns] }),
      readOnly: c.readOnly,
      ...(c.statements && { statements: c.statements.map((s) => ({ name: s.name, sql: s.sql, fixedParams: s.fixedParams })) }),
      constrained: c.constrained,
    })),
  };
}

export function decodeGrant(grant: WireGrant): SqlGrant {
  return {
    ability: grant.ability,
    caveats: grant.caveats.map((c) => ({
      ...(c.tables && { tables: new Set(c.tables) }),
      ...(c.columns && { columns: new Set(c.columns) }),
      readOnly: c.readOnly,
      ...(c.statements && { statements: c.statements }),
      constrained: c.constrained,
    })),
  };
}

export function encodeError(error: unknown): WireError {
  if (isTinyCloudError(error)) return { code: error.code, message: error.message, ...(error.details && { details: error.details }) };
  return { message: error instanceof Error ? error.message : String(error) };
}

export function decodeError(error: WireError): Error {
  return error.code ? new TinyCloudError(error.code, error.message, error.details) : new Error(`SQL executor: ${error.message}`);
}
