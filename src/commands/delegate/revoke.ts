import { Args, Flags } from '@oclif/core';
import { parseCid } from '../../core/ids/cid.js';
import { parseProof, readDidKeyFile, revocationToken, signIn, usageError } from '../../core/client/index.js';
import { ClientCommand, nodeFlag, ownerFlags } from '../_shared/client-command.js';

interface RevokeOutput {
  revoked: boolean;
  cid: string;
  node: string;
  revoker: string;
}

export default class DelegateRevoke extends ClientCommand {
  static override summary = 'Revoke a delegation on a node.';
  static override description = `Revokes the delegation CID (what \`delegate --json\` prints as cid) on the node: it and everything delegated from it stop working at once. As the owner, the revocation is signed by the owner's session for --space, which holds tinycloud.delegation/revoke on <space>/delegation, the way the SDK does it. With --from KEYFILE, that did:key signs it: it must be the delegation's delegator or delegatee (or, with --proof, hold a delegated revoke right).

Exit status: 0 revoked (revoking twice is fine), 3 not allowed to revoke it, 4 no such delegation on this node, 5 node error or unreachable.

JSON output (--json): {revoked, cid, node, revoker}.`;
  static override examples = [
    '<%= config.bin %> delegate revoke bafkr4i… --node http://127.0.0.1:8000',
    '<%= config.bin %> delegate revoke bafkr4i… --node URL --from bob.key --json',
  ];
  static override args = {
    cid: Args.string({ name: 'CID', required: true, description: 'CID of the delegation to revoke.' }),
  };
  static override flags = {
    node: nodeFlag,
    space: Flags.string({ summary: "The owner's space whose session signs (default \"default\").", default: 'default', helpValue: 'NAME' }),
    from: Flags.string({ summary: 'Sign as this did:key (a key file) instead of as the owner.', helpValue: 'KEYFILE' }),
    proof: Flags.string({ summary: 'A delegation giving --from the right to revoke.', helpValue: 'TOKEN|CID', multiple: true, dependsOn: ['from'] }),
    ...ownerFlags,
  };

  async run(): Promise<RevokeOutput> {
    const { args, flags } = await this.parse(DelegateRevoke);
    const target = parseCid(args.cid.trim());
    if (!target) throw usageError(`${args.cid} is not a CID`, 'Use the cid that tinycloud delegate --json printed (bafkr4i…).');
    const node = this.node(flags.node);
    let token: string;
    let revoker: string;
    if (flags.from) {
      const signer = await readDidKeyFile(flags.from);
      const proofs = await Promise.all((flags.proof ?? []).map(parseProof));
      for (const proof of proofs) if (proof.token) await node.delegate(proof.token, { action: 'register --proof' });
      token = revocationToken(signer, target, proofs.map((p) => p.cid));
      revoker = signer.did;
    } else {
      const owner = await this.owner(flags['owner-key']);
      const { session } = await signIn({ node, owner, chainId: flags['chain-id'], space: flags.space, store: this.sessions() });
      token = revocationToken(session.key, target, [session.cid]);
      revoker = session.owner;
    }
    const answer = await node.revoke(token, `revoke ${args.cid}`);
    this.note(`Revoked ${args.cid} on ${node.display}`);
    return { revoked: answer.revoked, cid: answer.cid, node: node.display, revoker };
  }
}
