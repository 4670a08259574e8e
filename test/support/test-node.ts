import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/core/config/load.js';
import { initDataDir } from '../../src/core/datadir.js';
import type { Clock } from '../../src/core/auth/engine/types.js';
import { startDaemon, type RunningDaemon } from '../../src/daemon/lifecycle.js';

export interface TestNode extends RunningDaemon {
  dataDir: string;
  config: Config;
  /** Stops the node and removes its data dir. */
  destroy(): Promise<void>;
}

export function tempDir(prefix = 'tinycloud-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/**
 * Boots a real node in-process on 127.0.0.1 and a free port, over a fresh data dir (SQLite + local blocks
 * unless `env` says otherwise). `env` takes TINYCLOUD_* variables exactly as an operator would set them; `clock`
 * pins the engine's time (epoch seconds); `bench` mounts the `tc-bench-v1` routes.
 */
export async function startTestNode(options: { env?: Record<string, string>; dataDir?: string; clock?: Clock; bench?: boolean; idleTimeoutMs?: number } = {}): Promise<TestNode> {
  const dataDir = options.dataDir ?? tempDir();
  if (!options.dataDir) await initDataDir(dataDir);
  const config = loadConfig({
    env: { TINYCLOUD_LOG_LEVEL: 'silent', ...options.env },
    flags: { 'storage.datadir': dataDir, port: 0, address: '127.0.0.1' },
  });
  const daemon = await startDaemon(config, { logger: false, clock: options.clock, bench: options.bench, idleTimeoutMs: options.idleTimeoutMs });
  return {
    ...daemon,
    dataDir,
    config,
    destroy: async () => {
      await daemon.stop();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
