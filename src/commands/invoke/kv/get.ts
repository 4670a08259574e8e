import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Args } from '@oclif/core';
import { ClientError, usageError } from '../../../core/client/index.js';
import { createBlake3Hasher } from '../../../core/ids/blake3.js';
import { KV_HELP_AUTH, KvCommand, kvFlags } from '../../_shared/kv-command.js';
import { formatBytes } from '../../_shared/ui/format.js';
import { startProgress } from '../../_shared/ui/progress.js';

interface GetOutput {
  spaceId: string;
  key: string;
  size: number;
  etag: string | null;
  contentType: string | null;
  version: string | null;
  lastModified: string | null;
  file: string;
  verified: boolean;
}

const BLAKE3_ETAG = /^"blake3-([0-9a-f]{64})"$/;

export default class KvGet extends KvCommand {
  static override summary = 'Read a value: to a file, or to stdout.';
  static override description = `Streams the value of the key PATH into FILE, or to stdout when FILE is - or absent, with constant memory. The bytes are hashed on the way and checked against the node's BLAKE3 ETag; a mismatch fails with exit 5 (and a FILE is not left behind: it is written under a temporary name and renamed only when complete and verified). A progress bar is drawn on stderr when it is a terminal.

${KV_HELP_AUTH}

JSON output (--json, needs FILE): {spaceId, key, size, etag, contentType, version, lastModified, file, verified}.`;
  static override examples = [
    '<%= config.bin %> invoke kv get photos/a.jpg ./a.jpg --node http://127.0.0.1:8000',
    '<%= config.bin %> invoke kv get backups/docs.tar --node URL | tar x',
    '<%= config.bin %> invoke kv get photos/a.jpg - --node URL --as bob.key --proof "$TOKEN" > a.jpg',
  ];
  static override args = {
    path: Args.string({ name: 'PATH', required: true, description: 'The key.' }),
    file: Args.string({ name: 'FILE', description: 'Where to write the value; - or absent: stdout.' }),
  };
  static override flags = { ...kvFlags };

  async run(): Promise<GetOutput> {
    const { args, flags } = await this.parse(KvGet);
    const toStdout = args.file === undefined || args.file === '-';
    if (toStdout && this.jsonEnabled()) {
      throw usageError('--json prints what was read, so the value itself needs a FILE', 'Give FILE, or drop --json to stream the value to stdout.');
    }
    const kv = await this.openKv(flags);
    const { info, body } = await kv.get(args.path);
    const expected = info.etag ? BLAKE3_ETAG.exec(info.etag)?.[1] : undefined;
    const hasher = await createBlake3Hasher();
    const progress = await startProgress(`get ${args.path}`, info.size ?? undefined, !this.jsonEnabled());
    let received = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        hasher.update(chunk);
        progress.add(chunk.length);
        callback(null, chunk);
      },
    });
    const verify = () => {
      if (info.size !== null && received !== info.size) {
        throw new ClientError('server', 'TRUNCATED', `kv get ${args.path}: received ${received} of ${info.size} bytes`);
      }
      if (expected && Buffer.from(hasher.digest()).toString('hex') !== expected) {
        throw new ClientError('server', 'INTEGRITY', `kv get ${args.path}: the bytes received do not hash to the ETag ${info.etag}`);
      }
    };
    try {
      if (toStdout) {
        await pipeline(body, tap, process.stdout, { end: false }).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EPIPE') throw error;
        });
        verify();
      } else {
        const file = args.file!;
        const partial = `${file}.${process.pid}.part`;
        try {
          await pipeline(body, tap, createWriteStream(partial));
          verify();
          await rename(partial, file);
        } catch (error) {
          await rm(partial, { force: true });
          throw error;
        }
      }
    } catch (error) {
      if (error instanceof ClientError) throw error;
      const e = error as NodeJS.ErrnoException;
      if (!toStdout && e.syscall && e.path) throw usageError(`Cannot write ${args.file}: ${e.message}`);
      throw new ClientError('server', 'NETWORK', `kv get ${args.path}: the transfer failed after ${formatBytes(received)}: ${e.message}`);
    } finally {
      progress.finish();
    }
    if (!toStdout) this.note(`Wrote ${args.path} (${formatBytes(received)}) to ${args.file}`);
    return {
      spaceId: kv.space.text,
      key: args.path,
      size: received,
      etag: info.etag,
      contentType: info.contentType,
      version: info.version,
      lastModified: info.lastModified,
      file: toStdout ? '-' : args.file!,
      verified: expected !== undefined,
    };
  }
}
