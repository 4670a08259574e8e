import { Flags } from '@oclif/core';
import { initDataDir, type InitResult } from '../core/datadir.js';
import { TinyCloudCommand } from './_shared/base.js';

export default class Init extends TinyCloudCommand {
  static override summary = 'Create a data directory: secret, config file, metadata DB and block store.';
  static override description = `Creates DIR/blocks/, the SQLite metadata DB with migrations applied, DIR/tinycloud.toml (every option, commented, with its environment variable) and a fresh 32-byte secret in DIR/secret (mode 0600).
An existing secret is never replaced without --force: a new secret changes every host key, so every hosted space becomes unreachable.

JSON output (--json): {dataDir, configFile, secretFile, blocksDir, database, nodeDid}`;
  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init --dir /var/lib/tinycloud --json',
  ];
  static override flags = {
    dir: Flags.string({ char: 'd', summary: 'Data directory to create.', default: './data' }),
    force: Flags.boolean({ summary: 'Replace an existing secret (destroys access to every hosted space).', default: false }),
  };

  async run(): Promise<InitResult> {
    const { flags } = await this.parse(Init);
    const result = await initDataDir(flags.dir, { force: flags.force });
    this.say(`Data directory  ${result.dataDir}`);
    this.say(`Config file     ${result.configFile}`);
    this.say(`Secret          ${result.secretFile} (mode 0600; back it up, keep it private)`);
    this.say(`Node DID        ${result.nodeDid}`);
    this.say(`\nStart the node with: tinycloud serve --dir ${flags.dir}`);
    return result;
  }
}
