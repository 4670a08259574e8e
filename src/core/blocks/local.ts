import { closeSync, constants, openSync, readSync, type Dirent } from 'node:fs';
import { copyFile, link, mkdir, open, opendir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { TinyCloudError } from '../errors.js';
import { digestToName, nameToDigest } from './digest.js';
import { DirectorySyncs, ensureDirDurable, fsyncFile, writeAll } from './durable-fs.js';
import { resolveRange } from './range.js';
import { spaceSegments } from './space-path.js';
import { stagedBlock, stageAndPersist } from './staged-block.js';
import { stageContent, type StagedContent, type StagingMode } from './staging.js';
import { SMALL_BLOCK_BYTES, type BlockStore, type ByteRange } from './store.js';
import { sweepAbandonedTempFiles, tempPath } from './temp-files.js';

export interface LocalBlockStoreOptions {
  path: string;
  staging: StagingMode;
  /** Where staging files go; defaults to `<path>/.tmp`, which lets a persist be a hard link, not a copy. */
  stagingDir?: string;
}

/**
 * Blocks as files: `<path>/<did suffix>/<space name>/<first 2 chars of name>/<base64url-padded digest>`.
 * WIRE §4.1 puts every block of a space in one directory; the extra shard level keeps directories small
 * (64² shards) when a space holds millions of blocks. A file only ever appears under its final name by an
 * atomic link or rename of a complete, fsynced temp file from `<path>/.tmp`, so a crash cannot expose a
 * partial block; abandoned temp files are swept when the store opens.
 */
export async function openLocalBlockStore(options: LocalBlockStoreOptions): Promise<BlockStore> {
  const root = resolve(options.path);
  const tmpDir = join(root, '.tmp');
  const stagingDir = resolve(options.stagingDir ?? tmpDir);
  await mkdir(tmpDir, { recursive: true });
  await mkdir(stagingDir, { recursive: true });
  await sweepAbandonedTempFiles(tmpDir);
  if (stagingDir !== tmpDir) await sweepAbandonedTempFiles(stagingDir);
  const area = { mode: options.staging, dir: stagingDir, fsync: true };

  const spaceDir = (space: string): string => {
    const dir = join(root, ...spaceSegments(space));
    // spaceSegments already refuses anything path-like; this is the second lock on the same door.
    if (!dir.startsWith(root + sep)) throw new TinyCloudError('INVALID_SPACE_ID', 'Invalid space id');
    return dir;
  };
  const blockPath = (space: string, digest: Uint8Array): string => blockPathIn(spaceDir(space), digest);

  /** Shard directories known to exist, durably: `mkdir` and its parent fsyncs happen once per directory. */
  const readyDirs = new Set<string>();
  /** Persists under way, by target: a second writer of the same block waits for the first one's fsyncs. */
  const placing = new Map<string, Promise<boolean>>();
  const dirSyncs = new DirectorySyncs();
  // A new space makes a new shard for most of its first 4096 blocks: their parent's fsyncs are shared too.
  const syncDir = (dir: string) => dirSyncs.sync(dir);

  /**
   * Give the staged content its block name: an fsynced file linked into its shard, then the shard fsynced.
   * Resolves only once both are durable, whether this call created the block or another writer did.
   */
  function persistContent(target: string, content: StagedContent): Promise<boolean> {
    const earlier = placing.get(target);
    const attempt = earlier ? earlier.then(() => false, () => place(target, content)) : place(target, content);
    placing.set(target, attempt);
    const forget = () => {
      if (placing.get(target) === attempt) placing.delete(target);
    };
    attempt.then(forget, forget);
    return attempt;
  }

  async function place(target: string, content: StagedContent): Promise<boolean> {
    if (await isFile(target)) return false;
    const dir = dirname(target);
    if (!readyDirs.has(dir)) {
      await ensureDirDurable(dir, syncDir);
      readyDirs.add(dir);
    }
    // Staged files were fsynced when staging finished; memory-staged bytes get theirs here.
    const source = content.file ?? (await writeTempFile(tmpDir, content.chunks ?? []));
    try {
      let created: boolean;
      try {
        created = await placeFile(source, target, tmpDir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        // The shard went away under us (removed by hand): make it again.
        readyDirs.delete(dir);
        await ensureDirDurable(dir, syncDir);
        readyDirs.add(dir);
        created = await placeFile(source, target, tmpDir);
      }
      await dirSyncs.sync(dir);
      return created;
    } finally {
      if (source !== content.file) await rm(source, { force: true });
    }
  }

  const store: BlockStore = {
    async stage(space, source, limit) {
      const dir = spaceDir(space);
      const content = await stageContent(area, source, limit);
      return stagedBlock(content, (staged) => persistContent(blockPathIn(dir, staged.digest), staged));
    },
    async put(space, source, limit) {
      return stageAndPersist(() => store.stage(space, source, limit));
    },
    async get(space, digest, range) {
      return openBlock(blockPath(space, digest), range);
    },
    async readSmall(space, digest, size) {
      return readWhole(blockPath(space, digest), size);
    },
    async has(space, digest) {
      return isFile(blockPath(space, digest));
    },
    async size(space, digest) {
      const info = await statOrUndefined(blockPath(space, digest));
      return info?.isFile() ? info.size : undefined;
    },
    async *list(space) {
      yield* listBlocks(spaceDir(space));
    },
    async close() {},
  };
  return store;
}

function blockPathIn(spaceDir: string, digest: Uint8Array): string {
  const name = digestToName(digest);
  return join(spaceDir, name.slice(0, 2), name);
}

async function openBlock(path: string, range: ByteRange | undefined): Promise<Readable | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const bounds = range ? resolveRange(range, size) : undefined;
    // 1 MiB reads: a quarter of the thread-pool round trips and socket writes of 256 KiB ones, ~40% faster here.
    return handle.createReadStream({ start: bounds?.start, end: bounds?.end, highWaterMark: 1024 * 1024 });
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Read a small block with three synchronous system calls on the event loop (open, read, close). A block is
 * immutable and its size is known, so there is no stat and no stream; from the page cache this costs a few
 * microseconds, where the thread pool's four round trips and a stream cost tens of them on the event loop.
 * Larger blocks are refused here and stream through `get`.
 */
function readWhole(path: string, size: number): Uint8Array | undefined {
  if (!Number.isSafeInteger(size) || size < 0 || size > SMALL_BLOCK_BYTES) throw new RangeError(`readSmall of ${size} bytes`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const bytes = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, bytes, read, size - read, read);
      if (n === 0) throw new TinyCloudError('INTERNAL', `A block is shorter than its recorded ${size} bytes`);
      read += n;
    }
    return bytes;
  } finally {
    closeSync(fd);
  }
}

async function* listBlocks(dir: string): AsyncGenerator<Uint8Array> {
  for await (const shard of await opendirOrEmpty(dir)) {
    if (!shard.isDirectory() || shard.name.length !== 2) continue;
    for await (const entry of await opendirOrEmpty(join(dir, shard.name))) {
      const digest = entry.isFile() && entry.name.startsWith(shard.name) ? nameToDigest(entry.name) : undefined;
      if (digest) yield digest;
    }
  }
}

async function opendirOrEmpty(dir: string): Promise<AsyncIterable<Dirent> | Dirent[]> {
  try {
    return await opendir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Give `source` the name `target` without ever replacing an existing block: a hard link fails with EEXIST
 * instead of overwriting, which is also how we learn the block was already there. Returns whether it created.
 */
async function placeFile(source: string, target: string, tmpDir: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'EXDEV') return placeCopy(source, target, tmpDir);
    // File systems without hard links: rename is still atomic, it just cannot report a concurrent twin.
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EMLINK') {
      await rename(source, target);
      return true;
    }
    throw error;
  }
}

/** The staging directory is on another file system: copy into the store's own temp dir, then link. */
async function placeCopy(source: string, target: string, tmpDir: string): Promise<boolean> {
  const copy = tempPath(tmpDir, 'part');
  try {
    await copyFile(source, copy, constants.COPYFILE_EXCL);
    await fsyncFile(copy);
    return await placeFile(copy, target, tmpDir);
  } finally {
    await rm(copy, { force: true });
  }
}

async function writeTempFile(dir: string, chunks: Uint8Array[]): Promise<string> {
  const path = tempPath(dir, 'part');
  const handle = await open(path, 'wx');
  try {
    await writeAll(handle, chunks);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(path, { force: true });
    throw error;
  }
  await handle.close();
  return path;
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await statOrUndefined(path))?.isFile() ?? false;
}
