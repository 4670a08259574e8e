import { Args } from '@oclif/core';
import { KV_HELP_AUTH, KvCommand, kvFlags } from '../../_shared/kv-command.js';

interface DelOutput {
  spaceId: string;
  key: string;
  deleted: true;
  etag: string | null;
}

export default class KvDel extends KvCommand {
  static override summary = 'Delete a key.';
  static override description = `Deletes the key PATH. Deletes are logical: the history stays (see \`invoke kv versions\`). A key that was never written is not found (exit 4); deleting an already deleted key succeeds with etag null.

${KV_HELP_AUTH}

JSON output (--json): {spaceId, key, deleted: true, etag}; etag is the removed value's, or null.`;
  static override examples = ['<%= config.bin %> invoke kv del photos/a.jpg --node http://127.0.0.1:8000'];
  static override args = {
    path: Args.string({ name: 'PATH', required: true, description: 'The key.' }),
  };
  static override flags = { ...kvFlags };

  async run(): Promise<DelOutput> {
    const { args, flags } = await this.parse(KvDel);
    const kv = await this.openKv(flags);
    const result = await kv.del(args.path);
    this.note(`Deleted ${args.path} from ${kv.space.text}`);
    return { spaceId: kv.space.text, key: args.path, deleted: true, etag: result.etag };
  }
}
