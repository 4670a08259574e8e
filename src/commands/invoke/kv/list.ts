import { Args } from '@oclif/core';
import { KV_HELP_AUTH, KvCommand, kvFlags } from '../../_shared/kv-command.js';
import { printTable } from '../../_shared/ui/table.js';

interface ListOutput {
  spaceId: string;
  prefix: string;
  keys: string[];
  count: number;
}

export default class KvList extends KvCommand {
  static override summary = 'List keys under a prefix.';
  static override description = `Lists the keys that start with PATH (a plain string prefix, not segment-aware: photos matches photos2/x too; end it with / for a folder), ascending, fetched a page at a time. Without PATH, every key. Piped: one key per line; on a terminal: a table.

${KV_HELP_AUTH}

JSON output (--json): {spaceId, prefix, keys: [string], count}.`;
  static override examples = [
    '<%= config.bin %> invoke kv list photos/ --node http://127.0.0.1:8000',
    '<%= config.bin %> invoke kv list --node URL --json',
  ];
  static override args = {
    path: Args.string({ name: 'PATH', description: 'Key prefix (default: all keys).' }),
  };
  static override flags = { ...kvFlags };

  async run(): Promise<ListOutput> {
    const { args, flags } = await this.parse(KvList);
    const prefix = args.path ?? '';
    const kv = await this.openKv(flags);
    const keys: string[] = [];
    const piped = !process.stdout.isTTY && !this.jsonEnabled();
    for await (const key of kv.list(prefix)) {
      if (piped) process.stdout.write(`${key}\n`);
      else keys.push(key);
    }
    if (!this.jsonEnabled() && !piped) {
      await printTable([{ header: 'KEY' }], keys.map((k) => [k]), `${keys.length} key${keys.length === 1 ? '' : 's'} in ${kv.space.text}`);
    }
    return { spaceId: kv.space.text, prefix, keys, count: keys.length };
  }
}
