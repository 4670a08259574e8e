import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Args, Flags } from '@oclif/core';
import { usageError } from '../../../core/client/index.js';
import { counting } from '../../_shared/counting.js';
import { KV_HELP_AUTH, KvCommand, kvFlags } from '../../_shared/kv-command.js';
import { formatBytes } from '../../_shared/ui/format.js';
import { startProgress } from '../../_shared/ui/progress.js';

interface PutOutput {
  spaceId: string;
  key: string;
  size: number;
  etag: string | null;
  version: string | null;
  contentType: string;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.txt': 'text/plain; charset=utf-8', '.md': 'text/markdown; charset=utf-8', '.html': 'text/html; charset=utf-8',
  '.css': 'text/css', '.js': 'text/javascript', '.json': 'application/json', '.csv': 'text/csv',
  '.xml': 'application/xml', '.pdf': 'application/pdf', '.zip': 'application/zip', '.gz': 'application/gzip',
  '.tar': 'application/x-tar', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.gif': 'image/gif',
  '.webp': 'image/webp', '.svg': 'image/svg+xml', '.mp3': 'audio/mpeg', '.mp4': 'video/mp4', '.wasm': 'application/wasm',
};

export default class KvPut extends KvCommand {
  static override summary = 'Store a value: a file, or stdin, streamed to the node.';
  static override description = `Writes FILE (or stdin when FILE is - or absent) under the key PATH, streamed with constant memory (a file is sent with its length, stdin chunked). The content type is taken from --content-type, else guessed from the file name of PATH or FILE, else application/octet-stream. A progress bar is drawn on stderr when it is a terminal.

${KV_HELP_AUTH}

JSON output (--json): {spaceId, key, size, etag, version, contentType}; etag is "blake3-<hex>" with its quotes, version the writing invocation's CID (null on nodes that do not report it).`;
  static override examples = [
    '<%= config.bin %> invoke kv put photos/a.jpg ./a.jpg --node http://127.0.0.1:8000',
    'tar c docs | <%= config.bin %> invoke kv put backups/docs.tar - --node http://127.0.0.1:8000 --json',
    '<%= config.bin %> invoke kv put shared/x ./x --node URL --as bob.key --proof "$TOKEN"',
  ];
  static override args = {
    path: Args.string({ name: 'PATH', required: true, description: 'The key.' }),
    file: Args.string({ name: 'FILE', description: 'File to upload; - or absent: stdin.' }),
  };
  static override flags = {
    ...kvFlags,
    'content-type': Flags.string({ summary: 'Content-Type stored with the value.' }),
    meta: Flags.string({ summary: 'Custom metadata stored as x-tinycloud-meta-NAME (repeatable).', helpValue: 'NAME=VALUE', multiple: true }),
    'create-only': Flags.boolean({ summary: 'Fail (exit 1) if the key already holds a value (If-None-Match: *).', default: false }),
    'if-match': Flags.string({ summary: 'Replace only the value with this ETag.', helpValue: 'ETAG' }),
  };

  async run(): Promise<PutOutput> {
    const { args, flags } = await this.parse(KvPut);
    const fromStdin = args.file === undefined || args.file === '-';
    if (fromStdin && process.stdin.isTTY) throw usageError('Nothing to upload: give FILE, or pipe the value into stdin');
    let size: number | undefined;
    if (!fromStdin) {
      const info = await stat(args.file!).catch((error: Error) => {
        throw usageError(`Cannot read ${args.file}: ${error.message}`);
      });
      if (!info.isFile()) throw usageError(`${args.file} is not a regular file`);
      size = info.size;
    }
    const metadata: Record<string, string> = {};
    for (const entry of flags.meta ?? []) {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw usageError(`--meta ${entry}: write NAME=VALUE`);
      metadata[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    const contentType =
      flags['content-type'] ??
      CONTENT_TYPES[path.extname(args.path).toLowerCase()] ??
      (fromStdin ? undefined : CONTENT_TYPES[path.extname(args.file!).toLowerCase()]) ??
      'application/octet-stream';

    const kv = await this.openKv(flags, { stdinIsData: fromStdin });
    const source: Readable = fromStdin ? process.stdin : createReadStream(args.file!);
    let sent = 0;
    const progress = await startProgress(`put ${args.path}`, size, !this.jsonEnabled());
    const body = counting(source, (bytes) => {
      sent += bytes;
      progress.add(bytes);
    });
    try {
      const result = await kv.put(args.path, body, {
        size,
        contentType,
        metadata,
        createOnly: flags['create-only'],
        ...(flags['if-match'] && { ifMatch: flags['if-match'] }),
      });
      progress.finish();
      this.note(`Stored ${args.path} (${formatBytes(sent)}) in ${kv.space.text}${result.etag ? `, etag ${result.etag}` : ''}`);
      return { spaceId: kv.space.text, key: args.path, size: sent, etag: result.etag, version: result.version, contentType };
    } finally {
      progress.finish();
    }
  }
}
