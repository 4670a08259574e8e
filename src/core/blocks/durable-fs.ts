import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, relative, sep } from 'node:path';

/** fsync a directory so the names created or renamed in it survive a power cut. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `mkdir -p dir`, fsyncing (with `syncDir`) the parent of every directory it had to create. */
export async function ensureDirDurable(dir: string, syncDir: (dir: string) => Promise<void> = fsyncDir): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true });
  if (firstCreated === undefined) return;
  const created = relative(dirname(firstCreated), dir).split(sep);
  let parent = dirname(firstCreated);
  for (const name of created) {
    await syncDir(parent);
    parent = `${parent}${sep}${name}`;
  }
}

/** Write all of `bytes` at the handle's current position (a single write may be short). */
export async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** Write `chunks` one after the other at the handle's position, in as few calls as the OS allows (writev). */
export async function writeAll(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
  let pending = chunks.filter((c) => c.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await handle.writev(pending);
    while (pending.length > 0 && bytesWritten >= pending[0]!.length) bytesWritten -= pending.shift()!.length;
    if (bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
  }
}

/**
 * Directory fsyncs, shared between writers. A caller whose change (a new name) is already made joins a sync of
 * the same directory that is queued but not yet begun, since that sync will cover it; a sync already running
 * may have missed the change, so the caller queues the next one. Concurrent writers into one directory pay one
 * fsync between them, and none is answered before an fsync that began after its change.
 */
export class DirectorySyncs {
  readonly #queued = new Map<string, { started: boolean; done: Promise<void> }>();

  constructor(private readonly fsync: (dir: string) => Promise<void> = fsyncDir) {}

  sync(dir: string): Promise<void> {
    const last = this.#queued.get(dir);
    if (last && !last.started) return last.done;
    const entry = { started: false, done: Promise.resolve() };
    entry.done = (last?.done ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => {
        entry.started = true;
        return this.fsync(dir);
      })
      .finally(() => {
        if (this.#queued.get(dir) === entry) this.#queued.delete(dir);
      });
    this.#queued.set(dir, entry);
    return entry.done;
  }
}
