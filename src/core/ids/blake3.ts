import { createBLAKE3, blake3 as blake3Hex } from 'hash-wasm';

/** Plain (unkeyed) BLAKE3-256 of a whole buffer. hash-wasm's one-shot form reuses one WASM instance. */
export async function blake3(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(Buffer.from(await blake3Hex(bytes, 256), 'hex'));
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
