import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { getAddress } from 'ethers';
import { parseCid, type CID } from '../ids/cid.js';
import { LruCache } from '../lru.js';
import { err, ok, type Result } from '../result.js';
import { decodeBase64UrlStrict, encodeBase64Url } from './base64url.js';
import {
  decodeDidKey,
  didKeyFromEd25519,
  didKeyVerificationMethod,
  ecdsaVerificationKey,
  parseDidPkh,
  type KeyType,
  type VerificationKey,
} from './did.js';
import { signEd25519, type Ed25519KeyPair } from './ed25519.js';
import { validateAttenuations, type Attenuations } from './recap.js';
import type { Caveat } from './types.js';

export const UCV_CURRENT = '0.10.0';
export const UCV_LEGACY = '0.9.0';

/** One `att` entry as sent, before resource parsing and legacy mapping. */
export interface RawCapability {
  readonly resource: string;
  readonly ability: string;
  /** Empty for `[{}]` and for the legacy array form. */
  readonly caveats: readonly Caveat[];
}

export interface DecodedUcan {
  readonly token: string;
  readonly header: Readonly<Record<string, unknown>>;
  readonly alg: string;
  readonly ucv: string;
  readonly iss: string;
  readonly aud: string;
  readonly exp: number;
  readonly nbf?: number;
  readonly nonce?: string;
  readonly facts: readonly Readonly<Record<string, unknown>>[];
  readonly proofs: readonly CID[];
  readonly capabilities: readonly RawCapability[];
  /** `att` was the UCAN 0.9 array `[{with, can}]`. */
  readonly arrayAtt: boolean;
  /** The ASCII `header.payload` exactly as received: the signed bytes. */
  readonly signingInput: Uint8Array;
  readonly signature: Uint8Array;
}

export interface UcanDecodeOptions {
  /** Accept `ucv` 0.9.0 and the array form of `att` (the 0.2.1 client, WIRE §14). */
  readonly legacy?: boolean;
}

const malformed = (why: string) => err('AUTH_MALFORMED', `invalid UCAN: ${why}`);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const utf8 = new TextDecoder('utf-8', { fatal: true });

// A client sends the same JWS header with every token: its decoded form is kept (and never mutated).
const decodedHeaders = new LruCache<string, Readonly<Record<string, unknown>>>(256);

function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64UrlStrict(segment);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `[{}]` means "no caveat"; anything else is kept as sent. */
const normalizeCaveats = (caveats: readonly Caveat[]): readonly Caveat[] =>
  caveats.length === 1 && Object.keys(caveats[0] as Caveat).length === 0 ? [] : caveats;

export function capabilitiesOfAttenuations(att: Attenuations): RawCapability[] {
  const out: RawCapability[] = [];
  for (const [resource, abilities] of Object.entries(att)) {
    for (const [ability, caveats] of Object.entries(abilities)) {
      out.push({ resource, ability, caveats: normalizeCaveats(caveats) });
    }
  }
  return out;
}

function capabilitiesOfArray(att: unknown[]): RawCapability[] | undefined {
  const out: RawCapability[] = [];
  for (const entry of att) {
    if (!isObject(entry) || typeof entry.with !== 'string' || typeof entry.can !== 'string') return undefined;
    out.push({ resource: entry.with, ability: entry.can, caveats: [] });
  }
  return out;
}

function parseProofs(prf: unknown): CID[] | undefined {
  if (prf === undefined) return [];
  if (!Array.isArray(prf)) return undefined;
  const out: CID[] = [];
  for (const link of prf) {
    // Both the string form and the DAG-JSON link form `{"/": "…"}` (the 0.2.1 client) are accepted.
    const text = typeof link === 'string' ? link : isObject(link) && Object.keys(link).length === 1 ? link['/'] : undefined;
    const cid = typeof text === 'string' ? parseCid(text) : undefined;
    if (!cid) return undefined;
    out.push(cid);
  }
  return out;
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * Decode a compact JWS UCAN (WIRE §2.5) without verifying it. `typ` must be `JWT` and `ucv` 0.10.0 (or 0.9.0 with
 * the legacy option). Times are JSON numbers and may be fractional.
 */
export function decodeUcan(token: string, options: UcanDecodeOptions = {}): Result<DecodedUcan> {
  const parts = token.split('.');
  if (parts.length !== 3) return malformed('expected header.payload.signature');
  const [headerText, payloadText, signatureText] = parts as [string, string, string];
  const header = decodedHeaders.through(headerText, decodeJsonSegment);
  const payload = decodeJsonSegment(payloadText);
  const signature = decodeBase64UrlStrict(signatureText);
  if (!header) return malformed('header is not base64url JSON');
  if (!payload) return malformed('payload is not base64url JSON');
  if (!signature) return malformed('signature is not canonical unpadded base64url');
  if (header.typ !== 'JWT') return malformed('typ must be JWT');
  if (typeof header.alg !== 'string') return malformed('alg missing');
  const ucv = header.ucv;
  if (ucv !== UCV_CURRENT && !(options.legacy && ucv === UCV_LEGACY)) {
    return malformed(`unsupported ucv ${JSON.stringify(ucv)}`);
  }
  const { iss, aud, exp, nbf, nnc, fct, prf, att } = payload;
  if (typeof iss !== 'string' || typeof aud !== 'string') return malformed('iss and aud must be strings');
  if (!isTime(exp)) return malformed('exp must be a number');
  if (nbf !== undefined && !isTime(nbf)) return malformed('nbf must be a number');
  if (nnc !== undefined && typeof nnc !== 'string') return malformed('nnc must be a string');
  if (fct !== undefined && !(Array.isArray(fct) && fct.every(isObject))) return malformed('fct must be a list of objects');
  const proofs = parseProofs(prf);
  if (!proofs) return malformed('prf must be a list of CIDs');

  let capabilities: RawCapability[] | undefined;
  let arrayAtt = false;
  if (Array.isArray(att)) {
    if (!options.legacy) return malformed('att must be an object');
    capabilities = capabilitiesOfArray(att);
    arrayAtt = true;
    if (!capabilities) return malformed('att entries must be {with, can}');
  } else {
    const checked = validateAttenuations(att);
    if (!checked.ok) return malformed(checked.error.message);
    capabilities = capabilitiesOfAttenuations(checked.value);
  }

  return ok({
    token,
    header,
    alg: header.alg,
    ucv,
    iss,
    aud,
    exp,
    ...(nbf !== undefined && { nbf: nbf as number }),
    ...(nnc !== undefined && { nonce: nnc as string }),
    facts: (fct ?? []) as Record<string, unknown>[],
    proofs,
    capabilities,
    arrayAtt,
    signingInput: Buffer.from(`${headerText}.${payloadText}`, 'ascii'),
    signature,
  });
}

const ALG_KEY_TYPE: Readonly<Record<string, KeyType>> = {
  EdDSA: 'Ed25519',
  ES256: 'P-256',
  ES256K: 'secp256k1',
  'ES256K-R': 'secp256k1',
};

/** A did:pkh issuer's key comes from the `jwk` header, and must hash to the DID's account (WIRE §2.5). */
function keyFromPkhJwk(issuer: string, jwk: unknown): Result<VerificationKey> {
  const account = parseDidPkh(issuer.split('#')[0] as string);
  if (!account.ok) return account;
  if (!isObject(jwk) || jwk.kty !== 'EC' || jwk.crv !== 'secp256k1') {
    return err('AUTH_UNSUPPORTED', 'a did:pkh issuer needs a secp256k1 jwk header');
  }
  const x = typeof jwk.x === 'string' ? decodeBase64UrlStrict(jwk.x) : undefined;
  const y = typeof jwk.y === 'string' ? decodeBase64UrlStrict(jwk.y) : undefined;
  if (x?.length !== 32 || y?.length !== 32) return malformed('jwk x and y must be 32 bytes');
  const point = Uint8Array.from([0x04, ...x, ...y]);
  if (!secp256k1.utils.isValidPublicKey(point, false)) return malformed('jwk is not a secp256k1 point');
  const address = getAddress(`0x${Buffer.from(keccak_256(point.subarray(1)).subarray(12)).toString('hex')}`);
  if (address !== account.value.address) return err('AUTH_BAD_SIGNATURE', 'jwk does not match the did:pkh account');
  return ok(ecdsaVerificationKey('secp256k1', point));
}

/** The key that must have signed `ucan`, with `alg` checked against it. */
export function resolveUcanKey(ucan: DecodedUcan, issuer: string = ucan.iss): Result<VerificationKey> {
  const expected = ALG_KEY_TYPE[ucan.alg];
  if (!expected) return err('AUTH_UNSUPPORTED', `unsupported alg ${ucan.alg}`);
  const key = issuer.startsWith('did:pkh:') ? keyFromPkhJwk(issuer, ucan.header.jwk) : decodeDidKey(issuer);
  if (!key.ok) return key;
  if (key.value.type !== expected) return err('AUTH_BAD_SIGNATURE', `alg ${ucan.alg} does not fit a ${key.value.type} key`);
  return key;
}

/** Check the signature over the received `header.payload` bytes; never re-serialized. */
export function verifyUcanSignature(
  ucan: Pick<DecodedUcan, 'alg' | 'signature' | 'signingInput'>,
  key: VerificationKey,
): boolean {
  // ES256K-R appends a recovery byte; the key is already known, so only r‖s is checked.
  const signature = ucan.alg === 'ES256K-R' && ucan.signature.length === 65 ? ucan.signature.subarray(0, 64) : ucan.signature;
  return key.verify(ucan.signingInput, signature);
}

export interface UcanToSign {
  readonly issuerKey: Ed25519KeyPair;
  readonly audience: string;
  readonly att: Attenuations;
  readonly prf?: readonly (CID | string)[];
  readonly exp: number;
  readonly nbf?: number;
  readonly nonce?: string;
  readonly facts?: readonly Readonly<Record<string, unknown>>[];
}

/** A protocol-1 UCAN (ucv 0.10.0, EdDSA) signed by an Ed25519 session key, issued as `did:key:X#X`. */
export function signUcan(u: UcanToSign): string {
  const header = { alg: 'EdDSA', typ: 'JWT', ucv: UCV_CURRENT };
  const payload = {
    iss: didKeyVerificationMethod(didKeyFromEd25519(u.issuerKey.publicKey)),
    aud: u.audience,
    exp: u.exp,
    ...(u.nbf !== undefined && { nbf: u.nbf }),
    ...(u.nonce !== undefined && { nnc: u.nonce }),
    ...(u.facts !== undefined && { fct: u.facts }),
    prf: (u.prf ?? []).map((p) => p.toString()),
    att: u.att,
  };
  const encode = (v: unknown) => encodeBase64Url(Buffer.from(JSON.stringify(v), 'utf8'));
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const signature = signEd25519(u.issuerKey.secretKey, Buffer.from(signingInput, 'ascii'));
  return `${signingInput}.${encodeBase64Url(signature)}`;
}
