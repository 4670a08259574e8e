import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blake3, blake3Sync, createBlake3Hasher } from '../../src/core/ids/blake3.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('BLAKE3 hashers', () => {
  it('interleaved streaming hashers, fresh and reused, each give the one-shot digest of their own input', async () => {
    const inputs = Array.from({ length: 6 }, (_, i) => [randomBytes(1000 + i), randomBytes(3000), randomBytes(i)]);
    for (let round = 0; round < 3; round++) {
      const hashers = await Promise.all(inputs.map(() => createBlake3Hasher()));
      for (let part = 0; part < 3; part++) inputs.forEach((chunks, i) => hashers[i]!.update(chunks[part]!));
      const digests = hashers.map((h) => hex(h.digest()));
      expect(digests).toEqual(await Promise.all(inputs.map(async (chunks) => hex(await blake3(Buffer.concat(chunks))))));
    }
  });

  it('refuses a hasher used after digest (it may already hash someone else’s body)', async () => {
    const hasher = await createBlake3Hasher();
    hasher.update(randomBytes(10));
    hasher.digest();
    expect(() => hasher.update(randomBytes(10))).toThrow(/after digest/);
    expect(() => hasher.digest()).toThrow(/after digest/);
  });

  it('the synchronous one-shot form agrees with the asynchronous one', async () => {
    for (const size of [0, 1, 1024, 100_000]) {
      const bytes = randomBytes(size);
      expect(hex(blake3Sync(bytes))).toBe(hex(await blake3(bytes)));
    }
  });
});
