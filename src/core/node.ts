import { AuthEngine, systemClock, type Clock } from './auth/engine/index.js';
import type { Config } from './config/load.js';
import { openMetadataDb, type MetadataDb } from './db/database.js';
import { NodeKeys } from './keys/node-keys.js';
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

  private constructor(
    readonly config: Config,
    readonly metadata: MetadataDb,
    readonly keys: NodeKeys,
    readonly clock: Clock,
  ) {
    this.auth = new AuthEngine(metadata, config, { clock });
    this.auth.start();
  }

  static async open(config: Config, options: NodeOptions = {}): Promise<TinyCloudNode> {
    const keys = await NodeKeys.create(config.keys.secret);
    const metadata = await openMetadataDb(config.storage.database);
    return new TinyCloudNode(config, metadata, keys, options.clock ?? systemClock);
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
    await this.metadata.close();
  }
}
