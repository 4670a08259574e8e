import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { openMetadataDb, type MetadataDb } from '../../src/core/db/database.js';
import { isTinyCloudError } from '../../src/core/errors.js';
import { Quotas } from '../../src/core/services/kv/quota.js';
import { parseSqlCaveat, parseSqlRequest, SqlDatabasePool, SqlService, type PoolOptions, type SqlGrant, type SqlResponse } from '../../src/core/services/sql/index.js';
import { tempDir } from '../support/test-node.js';

export const SPACE = 'tinycloud:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK:default';

export interface CoreSql {
  dir: string;
  metadata: MetadataDb;
  pool: SqlDatabasePool;
  sql: SqlService;
  /** Runs one request as `ability` (with optional caveats) and returns the JSON answer or the error. */
  call(ability: string, body: unknown, caveats?: unknown[], database?: string): Promise<Answer>;
  close(): Promise<void>;
}

export type Answer = { status: 200; json: any; response: SqlResponse } | { status: number; message: string };

let counter = 0;
export function fakeEvent() {
  counter += 1;
  const multihash = new Uint8Array(34);
  multihash.set([0x1e, 0x20]);
  new DataView(multihash.buffer).setUint32(30, counter);
  multihash[2] = Math.floor(Math.random() * 256);
  return { multihash, bytes: Buffer.from(`invocation ${counter}`), invoker: 'did:key:tester', facts: [] };
}

export function grant(ability: string, caveats: unknown[] = []): SqlGrant {
  return {
    ability,
    caveats: caveats.map((c) => {
      const parsed = parseSqlCaveat(c);
      if (!parsed.ok) throw new Error(parsed.message);
      if (!parsed.caveat) throw new Error('empty caveat');
      return parsed.caveat;
    }),
  };
}

/** A SQL service over a real metadata DB and real SQLite files in a temp dir. */
export async function openCoreSql(options: { limit?: number | null } & PoolOptions = {}): Promise<CoreSql> {
  const dir = tempDir('tinycloud-sql-');
  const metadata = await openMetadataDb(`sqlite:${join(dir, 'caps.db')}`);
  const { limit: _, ...poolOptions } = options;
  const pool = new SqlDatabasePool(join(dir, 'sql'), poolOptions);
  const sql = new SqlService({ pool, metadata, quotas: new Quotas(metadata.db, options.limit ?? null) });
  return {
    dir,
    metadata,
    pool,
    sql,
    async call(ability, body, caveats = [], database = 'default') {
      try {
        const response = await sql.invoke({
          space: SPACE,
          database,
          grants: [grant(ability, caveats)],
          request: parseSqlRequest(body),
          event: fakeEvent(),
        });
        return { status: 200, json: response.type === 'json' ? JSON.parse(response.body) : undefined, response };
      } catch (error) {
        if (isTinyCloudError(error)) return { status: error.status, message: error.message };
        throw error;
      }
    },
    async close() {
      await pool.close();
      await metadata.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const READ = 'tinycloud.sql/read';
export const SELECT = 'tinycloud.sql/select';
export const WRITE = 'tinycloud.sql/write';
export const SCHEMA = 'tinycloud.sql/schema';
export const ADMIN = 'tinycloud.sql/admin';
export const ALL = 'tinycloud.sql/*';

export const NOTES_SCHEMA = [
  'CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT)',
  'CREATE TABLE audit (id INTEGER PRIMARY KEY, note INTEGER, copied TEXT)',
  'CREATE VIEW note_bodies AS SELECT id, body FROM notes',
];
