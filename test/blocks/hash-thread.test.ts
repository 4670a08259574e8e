import { describe, expect, it } from 'vitest';
import { createThreadHasher } from '../../src/core/blocks/hash-thread.js';
import { blake3, randomBytes } from './helpers.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

async function threadDigest(chunks: Uint8Array[]): Promise<string> {
  const hasher = createThreadHasher();
  for (const chunk of chunks) await hasher.update(chunk);
  return hex(await hasher.digest());
}

describe('BLAKE3 on the worker thread', () => {
  it('gives the one-shot digest for empty, odd-sized and multi-batch bodies, in chunks of every size', async () => {
    for (const size of [0, 1, 1000, 512 * 1024, 512 * 1024 + 1, 3 * 1024 * 1024 + 17]) {
      const bytes = randomBytes(size);
      const chunks: Uint8Array[] = [];
      for (let at = 0, step = 1; at < size; at += step, step = (step * 7 + 13) % 200_000) chunks.push(bytes.subarray(at, at + step));
      expect(await threadDigest(chunks), `${size} bytes`).toBe(hex(await blake3(bytes)));
    }
  });

  it('keeps concurrent bodies apart, and an aborted body does not disturb the next', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(700_000 + i * 100_000));
    const aborted = createThreadHasher();
    await aborted.update(randomBytes(2_000_000));
    aborted.abort();
    const digests = await Promise.all(bodies.map((body) => threadDigest([body.subarray(0, 1234), body.subarray(1234)])));
    expect(digests).toEqual(await Promise.all(bodies.map(async (body) => hex(await blake3(body)))));
  });
});
