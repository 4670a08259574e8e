import { createPrivateKey, createPublicKey, randomBytes, sign, verify, type KeyObject } from 'node:crypto';

// DER prefixes that wrap a raw 32-byte Ed25519 key into SPKI / PKCS#8, the forms node:crypto imports.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// node:crypto (OpenSSL) verifies about 10x faster than @noble/curves here, and every invocation pays one
// verification; importing a key costs about as much as verifying, so imported keys are kept.
const MAX_CACHED_KEYS = 4096;
const publicKeys = new Map<string, KeyObject>();

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey).toString('base64');
  let key = publicKeys.get(id);
  if (!key) {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    if (publicKeys.size >= MAX_CACHED_KEYS) publicKeys.delete(publicKeys.keys().next().value as string);
    publicKeys.set(id, key);
  }
  return key;
}

/** RFC 8032 verification (S < L, canonical R), so a signature has a single valid byte form. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    return verify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * A verifier bound to one public key, imported on first use and then held: a cached `did:key` keeps its
 * verifier, so a session's invocations skip the import and the key-cache look-up.
 */
export function ed25519Verifier(publicKey: Uint8Array): (message: Uint8Array, signature: Uint8Array) => boolean {
  const raw = Uint8Array.from(publicKey);
  let key: KeyObject | undefined;
  return (message, signature) => {
    if (raw.length !== 32 || signature.length !== 64) return false;
    try {
      key ??= createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
      return verify(null, message, key, signature);
    } catch {
      return false;
    }
  };
}

export interface Ed25519KeyPair {
  /** The 32-byte seed (RFC 8032 private key). */
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function ed25519KeyFromSeed(seed: Uint8Array): Ed25519KeyPair {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { secretKey: Uint8Array.from(seed), publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)) };
}

export const generateEd25519Key = (): Ed25519KeyPair => ed25519KeyFromSeed(randomBytes(32));

export function signEd25519(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
  return new Uint8Array(sign(null, message, privateKey));
}
