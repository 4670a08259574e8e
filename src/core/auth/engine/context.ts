import type { Kysely, Transaction } from 'kysely';
import type { MetadataDb } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { cidOfDigest, cidToBase32, RAW_CODEC } from '../../ids/cid.js';
import type { Ed25519VerifyPool } from '../verify-pool.js';
import type { HostedSpaces } from './spaces.js';
import type { Clock } from './types.js';

/** What every engine operation needs; built once by `AuthEngine`. */
export interface EngineContext {
  readonly metadata: MetadataDb;
  readonly clock: Clock;
  readonly maxLifetimeSecs: number;
  readonly allowlist?: string;
  readonly spaces: HostedSpaces;
  readonly fetch: typeof fetch;
  /** Worker threads for invocation signatures; absent = verified on the event loop. */
  readonly verifyPool?: Ed25519VerifyPool;
}

/** Read through `metadata.db` on each call, never a copy, so tests can observe the statements issued. */
export const dbOf = (ctx: EngineContext): Kysely<Database> => ctx.metadata.db;

/** The base32 text of the raw-codec CID for a stored 34-byte multihash. */
export const cidTextOf = (multihash: Uint8Array): string => cidToBase32(cidOfDigest(multihash.subarray(2), RAW_CODEC));

/** `INSERT … ON CONFLICT DO NOTHING` on SQLite/PostgreSQL, `INSERT IGNORE` on MySQL. */
export async function insertActors(trx: Transaction<Database>, ctx: EngineContext, ids: readonly string[]): Promise<void> {
  const values = [...new Set(ids)].map((id) => ({ id }));
  if (values.length === 0) return;
  const insert = trx.insertInto('actor').values(values);
  await (ctx.metadata.engine === 'mysql' ? insert.ignore() : insert.onConflict((oc) => oc.column('id').doNothing())).execute();
}
