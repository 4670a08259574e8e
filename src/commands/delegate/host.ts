import { Flags } from '@oclif/core';
import { signIn } from '../../core/client/index.js';
import { ClientCommand, nodeFlag, ownerFlags } from '../_shared/client-command.js';

interface HostOutput {
  spaceId: string;
  node: string;
  owner: string;
  hostDid: string;
  created: boolean;
  sessionExpiresAt: string;
}

export default class DelegateHost extends ClientCommand {
  static override summary = "Host the owner's space on a node.";
  static override description = `Signs in as the owner like the SDK (a session key plus one wallet signature, cached until it expires) and, when the node does not host the space yet, delegates tinycloud.space/host on <space>/space to the node's host key for that space (GET /peer/generate/<space>), which creates it. Hosting an already hosted space changes nothing.

The owner key comes from TINYCLOUD_ETH_KEY (hex) or --owner-key FILE (hex, or an encrypted JSON keystore: the passphrase is asked on a terminal, or read from TINYCLOUD_KEYSTORE_PASSWORD).

JSON output (--json): {spaceId, node, owner, hostDid, created, sessionExpiresAt}; created is false when the space was already hosted.`;
  static override examples = [
    'TINYCLOUD_ETH_KEY=0x… <%= config.bin %> delegate host --node http://127.0.0.1:8000',
    '<%= config.bin %> delegate host --node https://node.example --space photos --owner-key wallet.json',
  ];
  static override flags = {
    node: nodeFlag,
    space: Flags.string({ summary: "Name of the owner's space (or its full id).", default: 'default', helpValue: 'NAME' }),
    ...ownerFlags,
  };

  async run(): Promise<HostOutput> {
    const { flags } = await this.parse(DelegateHost);
    const node = this.node(flags.node);
    const owner = await this.owner(flags['owner-key']);
    const result = await signIn({ node, owner, chainId: flags['chain-id'], space: flags.space, store: this.sessions(), createSpace: true });
    const hostDid = result.peerDid ?? (await node.peerDid(result.space.text));
    this.note(result.created ? `Space ${result.space.text} is now hosted on ${node.display}` : `Space ${result.space.text} was already hosted on ${node.display}`);
    if (!this.jsonEnabled()) this.log(result.space.text);
    return {
      spaceId: result.space.text,
      node: node.display,
      owner: result.session.owner,
      hostDid,
      created: result.created,
      sessionExpiresAt: new Date(result.session.expiresAt * 1000).toISOString(),
    };
  }
}
