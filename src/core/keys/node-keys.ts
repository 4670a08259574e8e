import { ed25519 } from '@noble/curves/ed25519.js';
import { createBLAKE3 } from 'hash-wasm';
import { didKeyFromEd25519 } from '../auth/did.js';
import type { Secret } from '../config/secret.js';

export interface Ed25519KeyPair {
  seed: Uint8Array;
  publicKey: Uint8Array;
  did: string;
}

export function ed25519FromSeed(seed: Uint8Array): Ed25519KeyPair {
  const publicKey = ed25519.getPublicKey(seed);
  return { seed, publicKey, did: didKeyFromEd25519(publicKey) };
}

/**
 * Every node key is derived from the one secret, so two nodes sharing a secret answer with the same
 * identities (WIRE §7): derive(ctx) = BLAKE3(secret ‖ ctx).
 */
export class NodeKeys {
  readonly #secret: Secret;
  readonly identity: Ed25519KeyPair;
  readonly #hasher: Awaited<ReturnType<typeof createBLAKE3>>;

  private constructor(secret: Secret, hasher: Awaited<ReturnType<typeof createBLAKE3>>) {
    this.#secret = secret;
    this.#hasher = hasher;
    this.identity = ed25519FromSeed(this.derive('tinycloud/node/identity'));
  }

  static async create(secret: Secret): Promise<NodeKeys> {
    return new NodeKeys(secret, await createBLAKE3(256));
  }

  /** BLAKE3(secret ‖ UTF-8(context)), 32 bytes. */
  derive(context: string): Uint8Array {
    this.#hasher.init();
    this.#hasher.update(this.#secret.reveal());
    this.#hasher.update(new TextEncoder().encode(context));
    return this.#hasher.digest('binary');
  }

  /** The per-space host key published by `/peer/generate/<space>`; the space id must be canonical. */
  hostKey(spaceId: string): Ed25519KeyPair {
    return ed25519FromSeed(this.derive(spaceId));
  }

  get nodeDid(): string {
    return this.identity.did;
  }
}
