import { randomFillSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createBlake3Hasher } from '../../src/core/ids/blake3.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import { digestToName } from '../../src/core/blocks/digest.js';

export const ALICE_SPACE = 'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:default';
export const BOB_SPACE = 'tinycloud:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK:photos';

export const MiB = 1024 * 1024;

export function randomBytes(size: number): Buffer {
  return randomFillSync(Buffer.allocUnsafe(size));
}

export async function* chunked(bytes: Uint8Array, chunkSize = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    yield bytes.subarray(offset, offset + chunkSize);
  }
}

/**
 * `size` bytes of fresh random data in 1 MiB chunks, never held at once; `digest()` is valid once consumed.
 * `onChunk` runs before each chunk is handed over (the memory probe of the large-object tests).
 */
export async function generatedStream(size: number, onChunk?: () => void) {
  const hasher = await createBlake3Hasher();
  let digest: Uint8Array | undefined;
  async function* body(): AsyncGenerator<Uint8Array> {
    for (let sent = 0; sent < size; sent += MiB) {
      onChunk?.();
      const chunk = randomBytes(Math.min(MiB, size - sent));
      hasher.update(chunk);
      yield chunk;
    }
    digest = hasher.digest();
  }
  return { body: body(), digest: () => digest! };
}

export async function readAll(stream: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  if (!stream) throw new Error('no stream');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export async function hashStream(stream: AsyncIterable<Uint8Array>): Promise<{ digest: Uint8Array; size: number }> {
  const hasher = await createBlake3Hasher();
  let size = 0;
  for await (const chunk of stream) {
    hasher.update(chunk);
    size += chunk.length;
  }
  return { digest: hasher.digest(), size };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export const names = (digests: Uint8Array[]): string[] => digests.map(digestToName).sort();

export { blake3, digestToName, Readable };

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/**
 * Tracks the peak of live Buffer memory above where it stood at creation. It collects garbage before each
 * sample (every `every` calls), so the peak is what is really held, not what the collector has yet to free.
 */
export function bufferMemoryProbe(every = 4) {
  collectGarbage();
  const baseline = process.memoryUsage().arrayBuffers;
  let peak = 0;
  let calls = 0;
  return {
    sample(): void {
      if (++calls % every !== 0) return;
      collectGarbage();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
    },
    peak: () => peak,
  };
}
