import { sql, type Kysely, type RawBuilder, type Selectable, type Transaction } from 'kysely';
import type { Engine } from '../../db/dialect.js';
import { prepared } from '../../db/prepared.js';
import type { Database, KvDeleteTable, KvWriteTable } from '../../db/schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The live entry of a key: its last write, or the delete that ended it. */
export interface CurrentEntry {
  key: string;
  /** 34-byte multihash of the invocation that wrote or deleted it. */
  invocation: Uint8Array;
  seq: number;
  epoch: Uint8Array;
  epochSeq: number;
  /** 32-byte content digest; undefined when deleted. */
  value?: Uint8Array;
  size: number;
  metadata: string;
  deleted: boolean;
  /** When the live value was written (seconds); undefined when deleted. */
  writtenAt?: number;
  /** The value's bytes when they are stored inline (`block.inline`); undefined when they are in the block store. */
  inline?: Uint8Array;
}

/** One version of a key: a write or a delete, in the space's epoch order. */
export interface KeyVersion {
  invocation: Uint8Array;
  seq: number;
  epoch: Uint8Array;
  epochSeq: number;
  writer: string;
  at: number;
  deleted: boolean;
  value?: Uint8Array;
  size: number;
  metadata: string;
  /** Inline bytes of the value, when the look-up asked for them and they are stored inline. */
  inline?: Uint8Array;
}

/** Position in epoch order: (seq, epoch_seq), ties broken by the invocation multihash. */
export interface EpochPosition {
  seq: number;
  epochSeq: number;
  invocation: Uint8Array;
}

/**
 * Last-writer-wins order of two versions of a key: the later epoch position wins, and two events at the same
 * position (possible only when epochs from different nodes meet) resolve by the larger invocation multihash.
 * A total order over data every node holds, so every node picks the same winner whatever the arrival order.
 */
export function compareEpochPosition(a: EpochPosition, b: EpochPosition): number {
  return a.seq - b.seq || a.epochSeq - b.epochSeq || Buffer.compare(a.invocation, b.invocation);
}

const bytes = (value: Uint8Array): Uint8Array => new Uint8Array(value);

/** Keys compare by code point on every engine: PostgreSQL is told so, the others use binary collations. */
function keyRef(engine: Engine): RawBuilder<string> {
  return engine === 'postgres' ? sql<string>`${sql.ref('current_kv.key')} collate "C"` : sql<string>`${sql.ref('current_kv.key')}`;
}

/**
 * `key` starts with `prefix`, as a plain string match. LIKE (and SQLite's case-sensitive GLOB, since SQLite's
 * LIKE ignores ASCII case) with every wildcard character in the prefix escaped, so `a_%` matches only keys
 * that start with those three characters.
 */
export function prefixMatch(engine: Engine, prefix: string): RawBuilder<boolean> {
  const key = sql.ref('current_kv.key');
  if (engine === 'sqlite') {
    const glob = prefix.replace(/[*?[]/g, (c) => `[${c}]`);
    return sql<boolean>`${key} glob ${`${glob}*`}`;
  }
  const like = prefix.replace(/[!%_]/g, (c) => `!${c}`);
  return sql<boolean>`${key} like ${`${like}%`} escape '!'`;
}

/**
 * The live entry of a key with its write time and, when the value is stored inline, its bytes: every get asks
 * this, so it is compiled once, and a small value costs no second query.
 */
const currentQuery = prepared((db, space: string, key: string) =>
  db
    .selectFrom('current_kv')
    .leftJoin('kv_write', (join) =>
      join
        .onRef('kv_write.space', '=', 'current_kv.space')
        .onRef('kv_write.key', '=', 'current_kv.key')
        .onRef('kv_write.invocation', '=', 'current_kv.invocation'),
    )
    .leftJoin('block', (join) => join.onRef('block.space', '=', 'current_kv.space').onRef('block.digest', '=', 'current_kv.value'))
    .select([
      'current_kv.key',
      'current_kv.invocation',
      'current_kv.seq',
      'current_kv.epoch',
      'current_kv.epoch_seq',
      'current_kv.value',
      'current_kv.size',
      'current_kv.metadata',
      'current_kv.deleted',
      'kv_write.written_at',
      'block.inline',
    ])
    .where('current_kv.space', '=', space)
    .where('current_kv.key', '=', key),
);

/** One write of a key (an earlier version, read with the `kvVersion` fact), with its inline bytes if any. */
const writeQuery = prepared((db, space: string, key: string, invocation: Uint8Array) =>
  db
    .selectFrom('kv_write')
    .leftJoin('block', (join) => join.onRef('block.space', '=', 'kv_write.space').onRef('block.digest', '=', 'kv_write.value'))
    .selectAll('kv_write')
    .select('block.inline')
    .where('kv_write.space', '=', space)
    .where('kv_write.key', '=', key)
    .where('kv_write.invocation', '=', invocation),
);

/** Read-only queries of the KV tables; it has no way to write. */
export class KvReader {
  constructor(
    private readonly db: Db,
    private readonly engine: Engine,
  ) {}

  async current(space: string, key: string): Promise<CurrentEntry | undefined> {
    const [row] = (await currentQuery(this.db, space, key)).rows;
    if (!row) return undefined;
    const deleted = Number(row.deleted) !== 0;
    return {
      key: row.key,
      invocation: bytes(row.invocation),
      seq: Number(row.seq),
      epoch: bytes(row.epoch),
      epochSeq: Number(row.epoch_seq),
      ...(!deleted && row.value && { value: bytes(row.value) }),
      size: Number(row.size),
      metadata: row.metadata,
      deleted,
      ...(!deleted && row.written_at !== null && { writtenAt: Number(row.written_at) }),
      ...(!deleted && row.inline && { inline: row.inline }),
    };
  }

  /** Live keys of a space starting with `prefix`, ascending, after `after` when given. */
  async keys(space: string, prefix: string, after: string | undefined, limit: number): Promise<string[]> {
    let query = this.db
      .selectFrom('current_kv')
      .select('current_kv.key')
      .where('current_kv.space', '=', space)
      .where('current_kv.deleted', '=', 0);
    if (prefix) query = query.where(prefixMatch(this.engine, prefix));
    if (after !== undefined) query = query.where(keyRef(this.engine), '>', after);
    const rows = await query.orderBy(keyRef(this.engine)).limit(limit).execute();
    return rows.map((r) => r.key);
  }

  /** One write of a key by the invocation with this multihash. */
  async write(space: string, key: string, invocation: Uint8Array): Promise<KeyVersion | undefined> {
    const [row] = (await writeQuery(this.db, space, key, invocation)).rows;
    return row ? { ...writeVersion(row), ...(row.inline && { inline: row.inline }) } : undefined;
  }

  /** Whether the invocation with this multihash deleted the key. */
  async deletedBy(space: string, key: string, invocation: Uint8Array): Promise<boolean> {
    const row = await this.db
      .selectFrom('kv_delete')
      .select('invocation')
      .where('space', '=', space)
      .where('key', '=', key)
      .where('invocation', '=', invocation)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Every version of a key (writes and deletes) in epoch order, after `after` when given. */
  async versions(space: string, key: string, after: EpochPosition | undefined, limit: number): Promise<KeyVersion[]> {
    const position = (q: 'kv_write' | 'kv_delete') =>
      after === undefined
        ? sql<boolean>`1 = 1`
        : sql<boolean>`(${sql.ref(`${q}.seq`)} > ${after.seq} or (${sql.ref(`${q}.seq`)} = ${after.seq} and (${sql.ref(`${q}.epoch_seq`)} > ${after.epochSeq} or (${sql.ref(`${q}.epoch_seq`)} = ${after.epochSeq} and ${sql.ref(`${q}.invocation`)} > ${after.invocation}))))`;
    const [writes, deletes] = await Promise.all([
      this.db
        .selectFrom('kv_write')
        .selectAll()
        .where('space', '=', space)
        .where('key', '=', key)
        .where(position('kv_write'))
        .orderBy('seq')
        .orderBy('epoch_seq')
        .orderBy('invocation')
        .limit(limit)
        .execute(),
      this.db
        .selectFrom('kv_delete')
        .selectAll()
        .where('space', '=', space)
        .where('key', '=', key)
        .where(position('kv_delete'))
        .orderBy('seq')
        .orderBy('epoch_seq')
        .orderBy('invocation')
        .limit(limit)
        .execute(),
    ]);
    const merged = [...writes.map(writeVersion), ...deletes.map(deleteVersion)].sort(compareEpochPosition);
    return merged.slice(0, limit);
  }
}

function writeVersion(row: Selectable<KvWriteTable>): KeyVersion {
  return {
    invocation: bytes(row.invocation),
    seq: Number(row.seq),
    epoch: bytes(row.epoch),
    epochSeq: Number(row.epoch_seq),
    writer: row.writer,
    at: Number(row.written_at),
    deleted: false,
    value: bytes(row.value),
    size: Number(row.size),
    metadata: row.metadata,
  };
}

function deleteVersion(row: Selectable<KvDeleteTable>): KeyVersion {
  return {
    invocation: bytes(row.invocation),
    seq: Number(row.seq),
    epoch: bytes(row.epoch),
    epochSeq: Number(row.epoch_seq),
    writer: row.writer,
    at: Number(row.deleted_at),
    deleted: true,
    size: 0,
    metadata: '{}',
  };
}

/** What a committed write or delete leaves in `current_kv`. */
export interface CurrentUpdate extends EpochPosition {
  space: string;
  key: string;
  epoch: Uint8Array;
  value: Uint8Array | null;
  size: number;
  metadata: string;
  deleted: boolean;
}

/**
 * Make `update` the live entry of its key unless the entry already there is later in epoch order (LWW). Runs
 * inside the writer's transaction. Returns whether `update` became live.
 */
const liveQuery = prepared((db, space: string, key: string) =>
  db.selectFrom('current_kv').select(['seq', 'epoch_seq', 'invocation']).where('space', '=', space).where('key', '=', key),
);
const insertCurrent = prepared(
  (db, space: string, key: string, invocation: Uint8Array, seq: number, epoch: Uint8Array, epochSeq: number, value: Uint8Array | null, size: number, metadata: string, deleted: number) =>
    db.insertInto('current_kv').values({ space, key, invocation, seq, epoch, epoch_seq: epochSeq, value, size, metadata, deleted }),
);
const updateCurrent = prepared(
  (db, space: string, key: string, invocation: Uint8Array, seq: number, epoch: Uint8Array, epochSeq: number, value: Uint8Array | null, size: number, metadata: string, deleted: number) =>
    db
      .updateTable('current_kv')
      .set({ invocation, seq, epoch, epoch_seq: epochSeq, value, size, metadata, deleted })
      .where('space', '=', space)
      .where('key', '=', key),
);

export async function applyCurrent(trx: Transaction<Database>, update: CurrentUpdate): Promise<boolean> {
  const [existing] = (await liveQuery(trx, update.space, update.key)).rows;
  const row = [
    update.space,
    update.key,
    update.invocation,
    update.seq,
    update.epoch,
    update.epochSeq,
    update.value,
    update.size,
    update.metadata,
    update.deleted ? 1 : 0,
  ] as const;
  if (!existing) {
    await insertCurrent(trx, ...row);
    return true;
  }
  const live = { seq: Number(existing.seq), epochSeq: Number(existing.epoch_seq), invocation: bytes(existing.invocation) };
  if (compareEpochPosition(update, live) <= 0) return false;
  await updateCurrent(trx, ...row);
  return true;
}

/** Whether a space already counts a block (its content stored inline or in the block store). */
export const blockKnownQuery = prepared((db, space: string, digest: Uint8Array) =>
  db.selectFrom('block').select('size').where('space', '=', space).where('digest', '=', digest),
);
const insertBlock = prepared((db, space: string, digest: Uint8Array, size: number, at: number, inline: Uint8Array | null) =>
  db.insertInto('block').values({ space, digest, size, created_at: at, inline }),
);
const addUsage = prepared((db, space: string, size: number) =>
  db
    .updateTable('space_usage')
    .set((eb) => ({ block_bytes: eb('block_bytes', '+', size) }))
    .where('space', '=', space),
);
const insertUsage = prepared((db, space: string, size: number) => db.insertInto('space_usage').values({ space, block_bytes: size }));

/**
 * Count a block against its space once: the first write of a digest in a space adds a `block` row and its size
 * to `space_usage`, in the caller's transaction. `inline` is the content when it is to live in that row rather
 * than in the block store; a row already there is left as it is, wherever its content lives. Returns whether the
 * block was new to the space.
 */
export async function recordBlock(
  trx: Transaction<Database>,
  space: string,
  digest: Uint8Array,
  size: number,
  at: number,
  inline: Uint8Array | null = null,
): Promise<boolean> {
  if ((await blockKnownQuery(trx, space, digest)).rows.length > 0) return false;
  await insertBlock(trx, space, digest, size, at, inline);
  const updated = await addUsage(trx, space, size);
  if (Number(updated.numAffectedRows ?? 0n) === 0) await insertUsage(trx, space, size);
  return true;
}
