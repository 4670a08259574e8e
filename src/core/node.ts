import { AuthEngine, systemClock, type Clock } from './auth/engine/index.js';
import { openBlockStore, type BlockStore } from './blocks/index.js';
import type { Config } from './config/load.js';
import { openMetadataDb, type MetadataDb } from './db/database.js';
import { NodeKeys } from './keys/node-keys.js';
import { KvService, SignedKvUrls } from './services/kv/index.js';
import { Quotas } from './services/kv/quota.js';
import { registerSqlCaveatRule, SqlDatabasePool, SqlService } from './services/sql/index.js';
import { NODE_VERSION, PROTOCOL_VERSION } from './version.js';

export interface NodeInfo {
  protocol: number;
  version: string;
  features: string[];
  nodeId: string;
  inTEE: boolean;
}

export interface NodeOptions {
  /** Epoch seconds; pinned in tests and replays of captured traffic. Defaults to the wall clock. */
  clock?: Clock;
}

/**
 * The composition root: everything the engine needs, opened once from a validated Config and released by
 * `close()`. The daemon and the CLI both hold one, so in-process commands run exactly what the daemon serves.
 */
export class TinyCloudNode {
  readonly #features = new Set<string>();

  /** Delegations, invocations, revocations (WIRE §2). */
  readonly auth: AuthEngine;
  /** KV over content-addressed blocks, with versions and quotas (WIRE §4). */
  readonly kv: KvService;
  /** Signed KV read URLs (WIRE §4.3). */
  readonly signedKv: SignedKvUrls;
  /** Per-space SQLite databases (WIRE §5). */
  readonly sql: SqlService;

  private constructor(
    readonly config: Config,
    readonly metadata: MetadataDb,
    readonly keys: NodeKeys,
    readonly clock: Clock,
    readonly blocks: BlockStore,
  ) {
    this.auth = new AuthEngine(metadata, config, { clock });
    this.auth.start();
    this.kv = new KvService({
      metadata,
      blocks,
      storageLimit: config.storage.limit,
      maxValueBytes: config.storage.maxObjectSize,
      cursorKey: keys.derive('tinycloud/kv/list-cursor'),
      now: clock,
    });
    this.signedKv = new SignedKvUrls({ metadata, blocks, ticketKey: keys.derive('tinycloud/kv/signed-urls'), now: clock });
    this.enableFeature('kv');
    this.enableFeature('signed-urls');
    registerSqlCaveatRule();
    this.sql = new SqlService({
      pool: new SqlDatabasePool(config.storage.sqlPath, { timeoutMs: config.storage.sqlTimeoutSecs * 1000 }),
      metadata,
      quotas: new Quotas(metadata.db, config.storage.limit),
      now: clock,
    });
    this.enableFeature('sql');
  }

  static async open(config: Config, options: NodeOptions = {}): Promise<TinyCloudNode> {
    const keys = await NodeKeys.create(config.keys.secret);
    const metadata = await openMetadataDb(config.storage.database);
    let blocks: BlockStore;
    try {
      blocks = await openBlockStore(config.storage.blocks, { staging: config.storage.staging });
    } catch (error) {
      await metadata.close();
      throw error;
    }
    return new TinyCloudNode(config, metadata, keys, options.clock ?? systemClock, blocks);
  }

  get nodeDid(): string {
    return this.keys.nodeDid;
  }

  /** Services announce themselves once they are fully wired, so `/info` never advertises what isn't served. */
  enableFeature(name: string): void {
    this.#features.add(name);
  }

  info(inTEE = false): NodeInfo {
    return {
      protocol: PROTOCOL_VERSION,
      version: NODE_VERSION,
      features: [...this.#features],
      nodeId: this.nodeDid,
      inTEE,
    };
  }

  async close(): Promise<void> {
    this.auth.close();
    await this.sql.pool.close();
    await this.blocks.close();
    await this.metadata.close();
  }
}
