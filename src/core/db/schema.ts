import type { ColumnType, Generated } from 'kysely';

/**
 * Table types of the metadata DB. Hash columns hold 34-byte BLAKE3 multihashes (`1e 20 ‖ digest`) except
 * `block.digest`, `kv_write.value` and `current_kv.value`, which hold the bare 32-byte content digest.
 * Times are seconds since the Unix epoch as floating point (UCAN times may be fractional).
 */
type Bytes = Uint8Array;
type Json = string;
/** SQLite returns integers as numbers, PostgreSQL's BIGINT as strings: read through `Number()`. */
type Int = ColumnType<number, number, number>;

export interface SpaceTable {
  id: string;
  created_at: number;
}

export interface ActorTable {
  id: string;
}

export interface DelegationTable {
  id: Bytes;
  delegator: string;
  delegatee: string;
  expiry: number | null;
  not_before: number | null;
  issued_at: number | null;
  facts: Json | null;
  /** Redelegation forbidden (`xyz.tinycloud.policy/delegationMode: terminal`). */
  terminal: Int;
  serialization: Bytes;
  received_at: number;
  /** BLAKE3 of the signed bytes (SIWE text / JWS signing input); unique (migration 002). */
  signed_digest: Bytes | null;
}

export interface InvocationTable {
  id: Bytes;
  invoker: string;
  issued_at: number;
  expiry: number | null;
  facts: Json | null;
  serialization: Bytes;
}

export interface RevocationTable {
  id: Bytes;
  revoker: string;
  revoked: Bytes;
  serialization: Bytes;
  revoked_at: number;
}

export interface AbilityTable {
  delegation: Bytes;
  resource: string;
  ability: string;
  /** JSON map `{"0": caveat0, …}`; `{}` when unconstrained. */
  caveats: Json;
}

export interface ParentDelegationTable {
  parent: Bytes;
  child: Bytes;
}

export interface InvokedAbilityTable {
  invocation: Bytes;
  resource: string;
  ability: string;
}

export interface EpochTable {
  id: Bytes;
  space: string;
  seq: Int;
}

export interface EpochOrderTable {
  parent: Bytes;
  child: Bytes;
  space: string;
}

/** Epochs no epoch names as parent, kept by triggers (migration 005). */
export interface EpochHeadTable {
  space: string;
  epoch: Bytes;
}

export interface EventOrderTable {
  event: Bytes;
  space: string;
  seq: Int;
  epoch: Bytes;
  epoch_seq: Int;
  /** `delegation` | `invocation` | `revocation`. */
  kind: string;
}

export interface KvWriteTable {
  space: string;
  key: string;
  invocation: Bytes;
  seq: Int;
  epoch: Bytes;
  epoch_seq: Int;
  value: Bytes;
  size: Int;
  metadata: Json;
  writer: string;
  written_at: number;
}

export interface KvDeleteTable {
  space: string;
  key: string;
  invocation: Bytes;
  seq: Int;
  epoch: Bytes;
  epoch_seq: Int;
  /** The invocation whose write was live when deleted; null when the key was already deleted. */
  deleted_invocation: Bytes | null;
  writer: string;
  deleted_at: number;
}

export interface CurrentKvTable {
  space: string;
  key: string;
  invocation: Bytes;
  seq: Int;
  epoch: Bytes;
  epoch_seq: Int;
  value: Bytes | null;
  size: Int;
  metadata: Json;
  deleted: Int;
}

export interface BlockTable {
  space: string;
  digest: Bytes;
  size: Int;
  created_at: number;
  /** The content itself when it is small enough to live here (migration 007); null: it is in the block store. */
  inline: ColumnType<Bytes | null, Bytes | null | undefined, Bytes | null>;
}

export interface InvocationReplayTable {
  content_hash: Bytes;
  expires_at: number;
}

/** Bytes of distinct blocks per space, kept beside `block` (migration 004). */
export interface SpaceUsageTable {
  space: string;
  block_bytes: Int;
}

export interface QuotaOverrideTable {
  space: string;
  limit_bytes: Int;
}

export interface SignedKvTicketTable {
  id: string;
  space: string;
  path: string;
  subject: string;
  etag: string;
  content_hash: Bytes;
  created_at: number;
  expires_at: number;
}

export interface SqlDatabaseTable {
  space: string;
  name: string;
  size_bytes: Int;
  created_at: number;
  updated_at: number;
}

export interface Database {
  space: SpaceTable;
  actor: ActorTable;
  delegation: DelegationTable;
  invocation: InvocationTable;
  revocation: RevocationTable;
  ability: AbilityTable;
  parent_delegation: ParentDelegationTable;
  invoked_ability: InvokedAbilityTable;
  epoch: EpochTable;
  epoch_order: EpochOrderTable;
  event_order: EventOrderTable;
  epoch_head: EpochHeadTable;
  kv_write: KvWriteTable;
  kv_delete: KvDeleteTable;
  current_kv: CurrentKvTable;
  block: BlockTable;
  invocation_replay: InvocationReplayTable;
  quota_override: QuotaOverrideTable;
  space_usage: SpaceUsageTable;
  signed_kv_ticket: SignedKvTicketTable;
  sql_database: SqlDatabaseTable;
}

export type { Generated };
