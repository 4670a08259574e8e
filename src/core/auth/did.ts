import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { getAddress } from 'ethers';
import { base58btc } from 'multiformats/bases/base58';
import { err, ok, type Result } from '../result.js';
import { LruCache } from '../lru.js';
import { ed25519Verifier } from './ed25519.js';

export type KeyType = 'Ed25519' | 'secp256k1' | 'P-256';

/** A public key that can check signatures made by the DID it came from. */
export interface VerificationKey {
  readonly type: KeyType;
  /** Raw Ed25519 key, or a compressed SEC1 point for the ECDSA curves. */
  readonly publicKey: Uint8Array;
  /**
   * Ed25519 over the message; ECDSA (ES256 / ES256K: `r‖s`, 64 bytes) over SHA-256 of the message.
   * secp256k1 insists on low-S; P-256 cannot, since WebCrypto signers do not normalize `s`.
   */
  verify(message: Uint8Array, signature: Uint8Array): boolean;
}

export interface DidKey extends VerificationKey {
  /** `did:key:z…` without fragment. */
  readonly did: string;
}

const DID_KEY_PREFIX = 'did:key:';

// Multicodec varints in front of the key bytes.
const ED25519_PUB = [0xed, 0x01] as const;
const SECP256K1_PUB = [0xe7, 0x01] as const;
const P256_PUB = [0x80, 0x24] as const;

const startsWith = (bytes: Uint8Array, prefix: readonly number[]): boolean =>
  prefix.every((b, i) => bytes[i] === b);

/** Split a DID URL into its DID and optional `#fragment`. */
export function splitDidUrl(didUrl: string): { did: string; fragment?: string } {
  const hash = didUrl.indexOf('#');
  return hash < 0 ? { did: didUrl } : { did: didUrl.slice(0, hash), fragment: didUrl.slice(hash + 1) };
}

// A session signs every request with one did:key; its decoded key (and imported verifier) is kept.
const decodedKeys = new LruCache<string, Result<DidKey>>(4096);

/**
 * Decode `did:key:z…` (optionally the verification method `did:key:z…#z…`) into its key (WIRE §2.6). A fragment
 * other than the key's own multibase string names no verification method and is rejected.
 */
export function decodeDidKey(didUrl: string): Result<DidKey> {
  const hit = decodedKeys.get(didUrl);
  if (hit) return hit;
  const decoded = decodeDidKeyUncached(didUrl);
  if (decoded.ok) decodedKeys.set(didUrl, decoded);
  return decoded;
}

function decodeDidKeyUncached(didUrl: string): Result<DidKey> {
  const { did, fragment } = splitDidUrl(didUrl);
  if (!did.startsWith(DID_KEY_PREFIX)) return err('AUTH_MALFORMED', `not a did:key: ${didUrl}`);
  const multibase = did.slice(DID_KEY_PREFIX.length);
  if (fragment !== undefined && fragment !== multibase) {
    return err('AUTH_MALFORMED', `did:key verification method must be #${multibase}`);
  }
  if (!multibase.startsWith('z')) return err('AUTH_MALFORMED', 'did:key must be base58btc (z…)');
  let bytes: Uint8Array;
  try {
    bytes = base58btc.decode(multibase);
  } catch {
    return err('AUTH_MALFORMED', 'did:key is not valid base58btc');
  }
  const key = bytes.subarray(2);
  if (startsWith(bytes, ED25519_PUB)) {
    if (key.length !== 32) return err('AUTH_MALFORMED', 'Ed25519 did:key must hold 32 bytes');
    return ok({ did, ...ed25519VerificationKey(key) });
  }
  if (startsWith(bytes, SECP256K1_PUB) || startsWith(bytes, P256_PUB)) {
    const isK1 = startsWith(bytes, SECP256K1_PUB);
    const curve = isK1 ? secp256k1 : p256;
    if (key.length !== 33 || !curve.utils.isValidPublicKey(key, true)) {
      return err('AUTH_MALFORMED', 'did:key holds no valid compressed curve point');
    }
    return ok({ did, ...ecdsaVerificationKey(isK1 ? 'secp256k1' : 'P-256', key) });
  }
  return err('AUTH_UNSUPPORTED', 'unsupported did:key type');
}

export function ed25519VerificationKey(publicKey: Uint8Array): VerificationKey {
  const key = Uint8Array.from(publicKey);
  return { type: 'Ed25519', publicKey: key, verify: ed25519Verifier(key) };
}

/** `publicKey` is any SEC1 encoding the curve accepts (compressed or not). */
export function ecdsaVerificationKey(type: 'secp256k1' | 'P-256', publicKey: Uint8Array): VerificationKey {
  const curve = type === 'secp256k1' ? secp256k1 : p256;
  const key = Uint8Array.from(publicKey);
  return {
    type,
    publicKey: key,
    verify: (message, signature) => {
      if (signature.length !== 64) return false;
      try {
        return curve.verify(signature, message, key, { prehash: true, lowS: type === 'secp256k1' });
      } catch {
        return false;
      }
    },
  };
}

/** `did:key:z6Mk…` for a raw 32-byte Ed25519 public key. */
export function didKeyFromEd25519(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new RangeError('an Ed25519 public key is 32 bytes');
  const bytes = new Uint8Array(34);
  bytes.set(ED25519_PUB, 0);
  bytes.set(publicKey, 2);
  return DID_KEY_PREFIX + base58btc.encode(bytes);
}

/** The did:key verification method URL `did:key:X#X` (what an SDK session signs UCANs as). */
export function didKeyVerificationMethod(did: string): string {
  const { did: bare } = splitDidUrl(did);
  return `${bare}#${bare.slice(DID_KEY_PREFIX.length)}`;
}

export interface PkhAccount {
  /** Canonical `did:pkh:eip155:<chainId>:<EIP-55 address>`. */
  readonly did: string;
  readonly chainId: number;
  readonly address: string;
}

const PKH_EIP155 = /^did:pkh:eip155:([1-9][0-9]*):(0x[0-9a-fA-F]{40})$/;

/**
 * Parse `did:pkh:eip155:<chainId>:<address>`: the chain id is decimal and positive, and the address is
 * accepted in any case unless it is mixed-case with a wrong EIP-55 checksum.
 */
export function parseDidPkh(did: string): Result<PkhAccount> {
  const m = PKH_EIP155.exec(did);
  if (!m) return err('AUTH_MALFORMED', `not a did:pkh:eip155 DID: ${did}`);
  const chainId = Number(m[1]);
  if (!Number.isSafeInteger(chainId)) return err('AUTH_MALFORMED', `chain id out of range: ${m[1]}`);
  const address = canonicalAddress(m[2] as string);
  if (!address) return err('AUTH_MALFORMED', `bad EIP-55 checksum: ${m[2]}`);
  return ok({ did: `did:pkh:eip155:${chainId}:${address}`, chainId, address });
}

// EIP-55 costs a keccak per call, and every did:pkh resource of every request names its owner's address.
const checksummed = new LruCache<string, string>(4096);

/** EIP-55 form of a 0x-prefixed 20-byte hex address, or undefined (bad length, bad mixed-case checksum). */
export function canonicalAddress(address: string): string | undefined {
  return checksummed.through(address, checksumOf);
}

function checksumOf(address: string): string | undefined {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) return undefined;
  try {
    return getAddress(address);
  } catch {
    return undefined;
  }
}

/** A DID (no fragment) in the form the node stores and compares: did:pkh:eip155 canonical, others verbatim. */
export function canonicalDid(did: string): string {
  if (!did.startsWith('did:pkh:eip155:')) return did;
  const pkh = parseDidPkh(did);
  return pkh.ok ? pkh.value.did : did;
}

/** The principal a DID URL speaks for: fragment stripped, did:pkh canonical (WIRE §2.6). */
export const principalOf = (didUrl: string): string => canonicalDid(splitDidUrl(didUrl).did);

/** `did_principal_matches`: equal principals after stripping fragments and canonicalizing did:pkh. */
export const principalsMatch = (a: string, b: string): boolean => principalOf(a) === principalOf(b);

const ID_CHAR = '(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})';
const DID_SYNTAX = new RegExp(`^did:[a-z0-9]+:(?:${ID_CHAR}*:)*${ID_CHAR}+$`);

/** W3C DID syntax (`did:<method>:<method-specific-id>`), without path, query or fragment. */
export const isDid = (text: string): boolean => DID_SYNTAX.test(text);
