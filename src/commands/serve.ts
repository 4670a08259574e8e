import { existsSync } from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { readConfigSources, resolveDataDir, validateConfig } from '../core/config/load.js';
import { initDataDir } from '../core/datadir.js';
import { startDaemon } from '../daemon/lifecycle.js';
import { TinyCloudCommand } from './_shared/base.js';

interface ServeResult {
  url: string;
  nodeDid: string;
  dataDir: string;
}

export default class Serve extends TinyCloudCommand {
  static override summary = 'Run a TinyCloud node (initialising the data directory on first start).';
  static override description = `Loads the configuration once (flags > TINYCLOUD_* environment > tinycloud.toml > defaults), validates it, opens the metadata DB and block store, and serves the TinyCloud protocol over HTTP until SIGINT or SIGTERM.
With no data directory yet, it first runs \`tinycloud init\` on it (SQLite metadata DB + local blocks).

JSON output (--json): one line {url, nodeDid, dataDir} once listening.`;
  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --dir /var/lib/tinycloud --port 8123 --address 0.0.0.0',
    'TINYCLOUD_STORAGE_LIMIT="10 GiB" <%= config.bin %> serve --config /etc/tinycloud.toml',
  ];
  static override flags = {
    dir: Flags.string({ char: 'd', summary: 'Data directory (storage.datadir).' }),
    config: Flags.string({ char: 'c', summary: 'Config file (default: DIR/tinycloud.toml when present).' }),
    port: Flags.string({ char: 'p', summary: 'TCP port (port).' }),
    address: Flags.string({ char: 'a', summary: 'Listen address (address).' }),
    'log-level': Flags.string({ summary: 'Log level (log_level).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Serve);
    // Listen for signals before anything starts, so a Ctrl-C during start-up is never the default kill;
    // repeated signals (supervisors often send theirs twice) must not interrupt a drain in progress.
    let requestStop!: () => void;
    const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
    process.on('SIGINT', () => requestStop());
    process.on('SIGTERM', () => requestStop());
    const sources = {
      configFile: flags.config,
      flags: { 'storage.datadir': flags.dir, port: flags.port, address: flags.address, log_level: flags['log-level'] },
    };
    let raw = readConfigSources(sources);
    const dataDir = resolveDataDir(raw);
    const hasSecret = raw.values.has('keys.secret') || raw.values.has('keys.secret_file') || existsSync(path.join(dataDir, 'secret'));
    if (!hasSecret && raw.problems.length === 0) {
      const created = await initDataDir(dataDir);
      this.say(`Initialised ${created.dataDir} (secret in ${created.secretFile})`);
      raw = readConfigSources(sources);
    }
    const config = validateConfig(raw);
    for (const warning of config.warnings) this.warn(warning);

    const daemon = await startDaemon(config, { logger: config.logLevel !== 'silent' });
    const result: ServeResult = { url: daemon.url, nodeDid: daemon.node.nodeDid, dataDir: config.dataDir };
    // One compact line, so a supervisor can read it as soon as the node listens.
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(result)}\n`);
    else this.log(`TinyCloud node listening on ${daemon.url}\nNode DID: ${result.nodeDid}\nData directory: ${config.dataDir}`);

    await stopRequested;
    // Drain politely, but never hang past the budget an operator's Ctrl-C deserves.
    const force = setTimeout(() => daemon.app.server.closeAllConnections(), 1000);
    force.unref();
    await daemon.stop();
  }
}
