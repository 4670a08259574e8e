import { open, rm, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { TinyCloudError } from '../errors.js';
import { createBlake3Hasher } from '../ids/blake3.js';
import { writeFully } from './durable-fs.js';
import type { BlockSource, WriteLimit } from './store.js';
import { tempPath } from './temp-files.js';

export type StagingMode = 'Memory' | 'FileSystem';

/** Memory staging keeps bodies up to this size in RAM and spills larger ones to a staging file. */
export const MEMORY_STAGING_LIMIT = 8 * 1024 * 1024;

/** A hashed body held outside the store: in memory (`chunks`) or in a staging file (`file`), never both. */
export interface StagedContent {
  digest: Uint8Array;
  size: number;
  chunks?: Uint8Array[];
  file?: string;
}

export interface StagingArea {
  mode: StagingMode;
  dir: string;
  memoryLimit?: number;
  /** fsync staging files before closing them (when they will be linked into a store as they are). */
  fsync?: boolean;
}

/**
 * Stream `source` into staging while hashing it. On any failure (the source errors, `maxBytes` is passed)
 * the partial staging file is removed before the error propagates.
 */
export async function stageContent(
  area: StagingArea,
  source: BlockSource,
  limit: WriteLimit = {},
): Promise<StagedContent> {
  const hasher = await createBlake3Hasher();
  const memoryLimit = area.mode === 'Memory' ? (area.memoryLimit ?? MEMORY_STAGING_LIMIT) : -1;
  let size = 0;
  let chunks: Uint8Array[] = [];
  let file: string | undefined;
  let handle: FileHandle | undefined;
  // One write in flight while the next chunk arrives and is hashed.
  let inflight: Promise<void> = Promise.resolve();
  try {
    for await (const raw of chunksOf(source)) {
      const chunk: Uint8Array = typeof raw === 'string' ? Buffer.from(raw) : raw;
      size += chunk.length;
      if (limit.maxBytes !== undefined && size > limit.maxBytes) throw limitExceeded(limit);
      hasher.update(chunk);
      if (!handle && size > memoryLimit) {
        file = tempPath(area.dir, 'stage');
        handle = await open(file, 'wx');
        for (const held of chunks) await writeFully(handle, held);
        chunks = [];
      }
      if (handle) {
        await inflight;
        inflight = writeFully(handle, chunk);
        // Its failure is taken up at the next await; until then it must not count as unhandled.
        inflight.catch(() => {});
      } else {
        chunks.push(chunk);
      }
    }
    await inflight;
    if (area.fsync) await handle?.sync();
    await handle?.close();
    handle = undefined;
    const digest = hasher.digest();
    return file ? { digest, size, file } : { digest, size, chunks };
  } catch (error) {
    await inflight.catch(() => {});
    await handle?.close().catch(() => {});
    if (file) await rm(file, { force: true });
    throw error;
  }
}

export async function releaseContent(content: StagedContent): Promise<void> {
  content.chunks = undefined;
  if (content.file) await rm(content.file, { force: true });
}

function chunksOf(source: BlockSource): AsyncIterable<Uint8Array | string> | Iterable<Uint8Array> {
  return source instanceof Readable ? source.iterator({ destroyOnReturn: false }) : source;
}

function limitExceeded(limit: WriteLimit): TinyCloudError {
  const code = limit.exceedCode ?? 'TOO_LARGE';
  const message =
    code === 'QUOTA_EXCEEDED'
      ? `Write exceeds remaining storage: ${limit.maxBytes} bytes left`
      : `Body exceeds ${limit.maxBytes} bytes`;
  return new TinyCloudError(code, message, { maxBytes: limit.maxBytes });
}
