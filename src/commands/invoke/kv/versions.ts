import { Args } from '@oclif/core';
import type { KvVersion } from '../../../core/client/index.js';
import { KV_HELP_AUTH, KvCommand, kvFlags } from '../../_shared/kv-command.js';
import { formatBytes } from '../../_shared/ui/format.js';
import { printTable } from '../../_shared/ui/table.js';

interface VersionsOutput {
  spaceId: string;
  key: string;
  versions: KvVersion[];
}

export default class KvVersions extends KvCommand {
  static override summary = 'Show the history of a key.';
  static override description = `Lists every write and delete of the key PATH, oldest first (the tinycloud.kv/versions extension, which tinycloud.kv/get implies; other protocol-1 nodes may not serve it). Piped: VERSION<TAB>WRITTEN_AT<TAB>SIZE<TAB>put|del<TAB>WRITER lines; on a terminal: a table.

${KV_HELP_AUTH}

JSON output (--json): {spaceId, key, versions: [{version, writer, writtenAt, size, etag, epoch, seq, epochSeq, deleted}]}.`;
  static override examples = ['<%= config.bin %> invoke kv versions notes/todo.md --node http://127.0.0.1:8000'];
  static override args = {
    path: Args.string({ name: 'PATH', required: true, description: 'The key.' }),
  };
  static override flags = { ...kvFlags };

  async run(): Promise<VersionsOutput> {
    const { args, flags } = await this.parse(KvVersions);
    const kv = await this.openKv(flags);
    const versions: KvVersion[] = [];
    for await (const version of kv.versions(args.path)) versions.push(version);
    if (!this.jsonEnabled()) {
      const tty = process.stdout.isTTY;
      await printTable(
        [{ header: 'VERSION' }, { header: 'WRITTEN AT' }, { header: 'SIZE', right: true }, { header: 'OP' }, { header: 'WRITER' }],
        versions.map((v) => [v.version, v.writtenAt, tty ? formatBytes(v.size) : String(v.size), v.deleted ? 'del' : 'put', v.writer]),
        `${versions.length} version${versions.length === 1 ? '' : 's'} of ${args.path}`,
      );
    }
    return { spaceId: kv.space.text, key: args.path, versions };
  }
}
