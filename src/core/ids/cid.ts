import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { base32 } from 'multiformats/bases/base32';
import { base58btc } from 'multiformats/bases/base58';
import { LruCache } from '../lru.js';
import { blake3 } from './blake3.js';

export const BLAKE3_CODE = 0x1e;
export const RAW_CODEC = 0x55;
export const DAG_CBOR_CODEC = 0x71;

/** The 34-byte multihash `1e 20 ‖ digest` that keys every event and block row. */
export function multihashOfDigest(digest: Uint8Array): Uint8Array {
  return Digest.create(BLAKE3_CODE, digest).bytes;
}

export function cidOfDigest(digest: Uint8Array, codec: number = RAW_CODEC): CID {
  return CID.createV1(codec, Digest.create(BLAKE3_CODE, digest));
}

/** CIDv1 over the exact bytes given (never re-encoded), BLAKE3-256. */
export async function cidOfBytes(bytes: Uint8Array, codec: number = RAW_CODEC): Promise<CID> {
  return cidOfDigest(await blake3(bytes), codec);
}

// Tokens cite their parents by CID text, the same few strings over and over; a CID is immutable.
const parsed = new LruCache<string, CID>(4096);

/** Parse a CID in base32 (`b…`) or base58btc (`z…`) text; returns undefined on anything else. */
export const parseCid = (text: string): CID | undefined => parsed.through(text, parseCidUncached);

function parseCidUncached(text: string): CID | undefined {
  try {
    if (text.startsWith('z')) return CID.parse(text, base58btc);
    return CID.parse(text);
  } catch {
    return undefined;
  }
}

export const cidToBase32 = (cid: CID): string => cid.toString(base32);
export const cidToBase58 = (cid: CID): string => cid.toString(base58btc);

export { CID };
