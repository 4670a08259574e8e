export type Engine = 'sqlite' | 'postgres' | 'mysql';

/** Column types that differ between engines; the schema is otherwise written once. */
export interface ColumnTypes {
  /** A short hash, part of keys: multihash or digest. */
  hash: string;
  /** Arbitrary bytes (serialized delegations, invocations). */
  bytes: string;
  /** An indexed identifier: DID, space id. */
  id: string;
  /** An indexed KV key or resource. */
  key: string;
  text: string;
  real: string;
  int: string;
}

export function columnTypes(engine: Engine): ColumnTypes {
  switch (engine) {
    case 'sqlite':
      return { hash: 'blob', bytes: 'blob', id: 'text', key: 'text', text: 'text', real: 'real', int: 'integer' };
    case 'postgres':
      return { hash: 'bytea', bytes: 'bytea', id: 'text', key: 'text', text: 'text', real: 'double precision', int: 'bigint' };
    case 'mysql':
      // InnoDB indexes at most 3072 bytes per key: space 200 + key 512 characters of utf8mb4 (4 bytes each)
      // plus a 64-byte hash fits. Space ids and KV keys are therefore capped at those lengths on MySQL.
      return { hash: 'varbinary(64)', bytes: 'longblob', id: 'varchar(200)', key: 'varchar(512)', text: 'longtext', real: 'double', int: 'bigint' };
  }
}
