import path from 'node:path';
import { Flags } from '@oclif/core';
import { clientConfigDir, newDidKey, writeDidKeyFile } from '../../core/client/index.js';
import { ClientCommand } from '../_shared/client-command.js';

interface KeygenOutput {
  did: string;
  file: string;
}

export default class DelegateKeygen extends ClientCommand {
  static override summary = 'Create an Ed25519 did:key to receive delegations with.';
  static override description = `Writes a new Ed25519 key to FILE (mode 0600; never over an existing file unless --force) and prints its did:key on stdout. Give the DID to whoever delegates to you (tinycloud delegate --to DID …), and use the file with --as / --from.

The file is an Ed25519 JWK (RFC 8037) with its DID: {did, kty: "OKP", crv: "Ed25519", x, d}. Without -o it goes to <config dir>/keys/<did>.json ($TINYCLOUD_CONFIG_DIR, $XDG_CONFIG_HOME/tinycloud or ~/.config/tinycloud).

JSON output (--json): {did, file}.`;
  static override examples = ['<%= config.bin %> delegate keygen -o bob.key', '<%= config.bin %> delegate keygen --json'];
  static override flags = {
    output: Flags.string({ char: 'o', summary: 'Key file to write.', helpValue: 'FILE' }),
    force: Flags.boolean({ summary: 'Replace an existing file.', default: false }),
  };

  async run(): Promise<KeygenOutput> {
    const { flags } = await this.parse(DelegateKeygen);
    const key = newDidKey();
    const file = path.resolve(flags.output ?? path.join(clientConfigDir(process.env), 'keys', `${key.did.slice('did:key:'.length)}.json`));
    await writeDidKeyFile(file, key, flags.force);
    if (!this.jsonEnabled()) {
      this.log(key.did);
      this.note(`Key written to ${file} (mode 0600; keep it private)`);
    }
    return { did: key.did, file };
  }
}
