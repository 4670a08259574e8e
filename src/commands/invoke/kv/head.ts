import { Args } from '@oclif/core';
import type { KvObjectInfo } from '../../../core/client/index.js';
import { KV_HELP_AUTH, KvCommand, kvFlags } from '../../_shared/kv-command.js';
import { formatBytes } from '../../_shared/ui/format.js';
import { printTable } from '../../_shared/ui/table.js';

type HeadOutput = KvObjectInfo & { spaceId: string };

export default class KvHead extends KvCommand {
  static override summary = "Show a value's metadata without reading it.";
  static override description = `Asks for the metadata of the key PATH (tinycloud.kv/metadata): size, ETag, content type, version, last modified and custom x-tinycloud-meta-* entries. Piped: NAME<TAB>VALUE lines; on a terminal: a table.

${KV_HELP_AUTH}

JSON output (--json): {spaceId, key, size, etag, contentType, version, lastModified, metadata: {NAME: VALUE}}; fields a node does not report are null.`;
  static override examples = ['<%= config.bin %> invoke kv head photos/a.jpg --node http://127.0.0.1:8000 --json'];
  static override args = {
    path: Args.string({ name: 'PATH', required: true, description: 'The key.' }),
  };
  static override flags = { ...kvFlags };

  async run(): Promise<HeadOutput> {
    const { args, flags } = await this.parse(KvHead);
    const kv = await this.openKv(flags);
    const info = await kv.head(args.path);
    if (!this.jsonEnabled()) {
      const rows: string[][] = [
        ['key', info.key],
        ['size', info.size === null ? '' : process.stdout.isTTY ? `${info.size} (${formatBytes(info.size)})` : String(info.size)],
        ['etag', info.etag ?? ''],
        ['content-type', info.contentType ?? ''],
        ['version', info.version ?? ''],
        ['last-modified', info.lastModified ?? ''],
        ...Object.entries(info.metadata).map(([name, value]) => [`meta.${name}`, value]),
      ];
      await printTable([{ header: 'FIELD' }, { header: 'VALUE' }], rows);
    }
    return { spaceId: kv.space.text, ...info };
  }
}
