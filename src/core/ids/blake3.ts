import { createBLAKE3, blake3 as blake3Hex } from 'hash-wasm';

/** Plain (unkeyed) BLAKE3-256 of a whole buffer. hash-wasm's one-shot form reuses one WASM instance. */
export async function blake3(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(Buffer.from(await blake3Hex(bytes, 256), 'hex'));
}

// One hasher for the synchronous form: JS never interleaves init/update/digest of one call with another.
const shared = await createBLAKE3(256);

/** BLAKE3-256 of a small buffer, synchronously (no promise hop; the auth hot path hashes every token). */
export function blake3Sync(bytes: Uint8Array): Uint8Array {
  shared.init();
  shared.update(bytes);
  return shared.digest('binary');
}

export async function blake3HexOf(bytes: Uint8Array | string): Promise<string> {
  return blake3Hex(bytes, 256);
}

export interface StreamingHasher {
  update(chunk: Uint8Array): void;
  digest(): Uint8Array;
}

/** An incremental BLAKE3-256 hasher, for hashing bodies while they stream. */
export async function createBlake3Hasher(): Promise<StreamingHasher> {
  const hasher = await createBLAKE3(256);
  hasher.init();
  return {
    update: (chunk) => void hasher.update(chunk),
    digest: () => hasher.digest('binary'),
  };
}
