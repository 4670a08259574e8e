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
  /** The digest; the hasher is spent (update and digest throw afterwards). */
  digest(): Uint8Array;
}

type WasmHasher = Awaited<ReturnType<typeof createBLAKE3>>;

// Instantiating a hasher costs about 20 times hashing a 1 KiB body, and every KV put streams through one:
// digested hashers are kept for the next body. Abandoned ones (a failed upload) are simply collected.
const MAX_IDLE_HASHERS = 64;
const idle: WasmHasher[] = [];

/** An incremental BLAKE3-256 hasher, for hashing bodies while they stream. */
export async function createBlake3Hasher(): Promise<StreamingHasher> {
  const hasher = idle.pop() ?? (await createBLAKE3(256));
  hasher.init();
  let spent = false;
  const live = () => {
    if (spent) throw new Error('BLAKE3 hasher used after digest()');
  };
  return {
    update: (chunk) => {
      live();
      hasher.update(chunk);
    },
    digest: () => {
      live();
      spent = true;
      const digest = hasher.digest('binary');
      if (idle.length < MAX_IDLE_HASHERS) idle.push(hasher);
      return digest;
    },
  };
}
