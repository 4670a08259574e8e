import { sql, type Kysely } from 'kysely';
import { columnTypes, type Engine } from '../dialect.js';

/**
 * `delegation.signed_digest`: BLAKE3 of the bytes a delegation's signature covers (the SIWE text, or the JWS
 * `header.payload`). A CACAO re-encoded with another CBOR key order keeps a valid signature under a new CID;
 * the unique index lets one signed grant be stored once, so a revoked grant cannot come back re-encoded.
 */
export function delegationSignedDigest(engine: Engine) {
  const t = columnTypes(engine);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('delegation').addColumn('signed_digest', sql.raw(t.hash)).execute();
      await db.schema.createIndex('delegation_signed_digest').unique().on('delegation').column('signed_digest').execute();
    },
  };
}
