import { open, rm, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { TinyCloudError } from '../errors.js';
import { createBlake3Hasher } from '../ids/blake3.js';
import { writeAll } from './durable-fs.js';
import { createThreadHasher } from './hash-thread.js';
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

/** Bodies announced at least this large are hashed on the BLAKE3 thread (hash-thread.ts), beside the event loop. */
const THREAD_HASH_BYTES = 8 * 1024 * 1024;

/** Bytes handed to the staging file but not yet written past which reading the body waits for the disk. */
const MAX_UNWRITTEN = 1024 * 1024;

/**
 * Appends chunks to a file with one write in flight; chunks that arrive meanwhile go out together in the next
 * writev, so a fast body costs a few large writes rather than one per socket read.
 */
class FileAppender {
  #waiting: Uint8Array[] = [];
  #waitingBytes = 0;
  #writing: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;

  constructor(private readonly handle: FileHandle) {}

  /** Queue `chunk`; resolves at once unless too many bytes already wait for the disk. */
  async append(chunk: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure.error;
    this.#waiting.push(chunk);
    this.#waitingBytes += chunk.length;
    this.#writing ??= this.#writeWaiting();
    if (this.#waitingBytes >= MAX_UNWRITTEN) await this.#writing;
  }

  /** Every queued byte written, or the first write error. */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#failure) throw this.#failure.error;
  }

  async #writeWaiting(): Promise<void> {
    try {
      while (this.#waiting.length > 0 && !this.#failure) {
        const batch = this.#waiting;
        this.#waiting = [];
        this.#waitingBytes = 0;
        await writeAll(this.handle, batch);
      }
    } catch (error) {
      this.#failure = { error };
    } finally {
      this.#writing = undefined;
    }
  }
}

/**
 * Stream `source` into staging while hashing it. On any failure (the source errors, `maxBytes` is passed)
 * the partial staging file is removed before the error propagates. A body announced (`limit.expectedBytes`) as
 * larger than the memory limit goes to its file from the first byte.
 */
export async function stageContent(
  area: StagingArea,
  source: BlockSource,
  limit: WriteLimit = {},
): Promise<StagedContent> {
  const hasher = (limit.expectedBytes ?? 0) >= THREAD_HASH_BYTES ? createThreadHasher() : await createBlake3Hasher();
  const inMemory = area.memoryLimit ?? MEMORY_STAGING_LIMIT;
  // -1: to a file from the first byte (FileSystem staging, or a body announced as too big for memory).
  const memoryLimit = area.mode === 'Memory' && !((limit.expectedBytes ?? 0) > inMemory) ? inMemory : -1;
  let size = 0;
  let chunks: Uint8Array[] = [];
  let file: string | undefined;
  let handle: FileHandle | undefined;
  let appender: FileAppender | undefined;
  try {
    for await (const raw of chunksOf(source)) {
      const chunk: Uint8Array = typeof raw === 'string' ? Buffer.from(raw) : raw;
      size += chunk.length;
      if (limit.maxBytes !== undefined && size > limit.maxBytes) throw limitExceeded(limit);
      await hasher.update(chunk);
      if (!appender && size > memoryLimit) {
        file = tempPath(area.dir, 'stage');
        handle = await open(file, 'wx');
        appender = new FileAppender(handle);
        for (const held of chunks) await appender.append(held);
        chunks = [];
      }
      if (appender) await appender.append(chunk);
      else chunks.push(chunk);
    }
    await appender?.flush();
    if (area.fsync) await handle?.sync();
    await handle?.close();
    handle = undefined;
    const digest = await hasher.digest();
    return file ? { digest, size, file } : { digest, size, chunks };
  } catch (error) {
    if ('abort' in hasher) hasher.abort();
    await appender?.flush().catch(() => {});
    await handle?.close().catch(() => {});
    if (file) await rm(file, { force: true });
    throw error;
  }
}

/** Content held in memory of at most `max` bytes, as one array: the chunk itself when there is only one. */
export function heldBytes(content: StagedContent, max: number): Uint8Array | undefined {
  const { chunks, size } = content;
  if (!chunks || size > max) return undefined;
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
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
