import { randomBytes, randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { encodeBase64UrlPadded } from '../auth/base64url.js';
import { cacaoPayloadOfSiwe, encodeCacao } from '../auth/cacao.js';
import { decodeAuthorization } from '../auth/envelope.js';
import { encodeRecap, statementFor, type Attenuations } from '../auth/recap.js';
import { renderSiweMessage, type SiweFields } from '../auth/siwe.js';
import type { SignedEnvelope } from '../auth/types.js';
import { signUcan } from '../auth/ucan.js';
import { cidOfBytes, cidToBase32, cidToBase58, parseCid, type CID } from '../ids/cid.js';
import { usageError } from './errors.js';
import type { DidKeySigner, OwnerSigner } from './keys.js';
import { rfc3339 } from './time.js';

/** The SIWE `domain` the CLI signs as: the party asking for the signature. */
export const SIWE_DOMAIN = 'tinycloud-cli';

/** A signed delegation, ready for an `Authorization` header. */
export interface SignedDelegation {
  /** The header value: padded base64url DAG-CBOR (CACAO) or the compact JWS (UCAN). */
  readonly token: string;
  readonly cid: CID;
  readonly kind: 'cacao' | 'ucan';
}

/** A fresh SIWE nonce (EIP-4361: at least 8 alphanumerics). */
export const siweNonce = (): string => randomBytes(12).toString('hex');

/** A fresh UCAN nonce, the SDK's form. */
export const ucanNonce = (): string => `urn:uuid:${randomUUID()}`;

export interface OwnerDelegationRequest {
  readonly owner: OwnerSigner;
  readonly chainId: number;
  /** The SIWE URI: the delegate's DID (a session key signs as `did:key:X#X`). */
  readonly audience: string;
  readonly att: Attenuations;
  /** ReCap `prf`, base58btc CIDs. */
  readonly proofs?: readonly CID[];
  readonly issuedAt: number;
  readonly expiresAt?: number;
  readonly notBefore?: number;
}

/** The SIWE message a wallet signs for a ReCap delegation (WIRE §2.2–§2.3). */
export function ownerSiweFields(r: Omit<OwnerDelegationRequest, 'owner'> & { address: string }): SiweFields {
  return {
    domain: SIWE_DOMAIN,
    address: r.address,
    statement: statementFor(r.att),
    uri: r.audience,
    chainId: r.chainId,
    nonce: siweNonce(),
    issuedAt: rfc3339(r.issuedAt),
    ...(r.expiresAt !== undefined && { expirationTime: rfc3339(r.expiresAt) }),
    ...(r.notBefore !== undefined && { notBefore: rfc3339(r.notBefore) }),
    resources: [encodeRecap({ att: r.att, prf: (r.proofs ?? []).map(cidToBase58) })],
  };
}

/**
 * A wallet-signed SIWE + ReCap CACAO (WIRE §2.4), encoded in the Rust SDK's field order and header-encoded with
 * padding as the SDK does; its CID is BLAKE3 over the CBOR bytes.
 */
export async function signOwnerDelegation(r: OwnerDelegationRequest): Promise<SignedDelegation> {
  const fields = ownerSiweFields({ ...r, address: r.owner.address });
  const signature = await r.owner.signMessage(renderSiweMessage(fields));
  const bytes = encodeCacao(cacaoPayloadOfSiwe(fields), signature);
  return { token: encodeBase64UrlPadded(bytes), cid: await cidOfBytes(bytes), kind: 'cacao' };
}

export interface KeyDelegationRequest {
  readonly signer: DidKeySigner;
  readonly audience: string;
  readonly att: Attenuations;
  readonly proofs: readonly CID[];
  readonly expiresAt: number;
  readonly notBefore?: number;
}

/** A UCAN sub-delegation (WIRE §2.5 `createDelegation`): `iss` = the key's `did:key:X#X`, `prf` = its proofs. */
export async function signKeyDelegation(r: KeyDelegationRequest): Promise<SignedDelegation> {
  const token = signUcan({
    issuerKey: r.signer.keyPair,
    audience: r.audience,
    att: r.att,
    prf: r.proofs.map(cidToBase32),
    exp: r.expiresAt,
    ...(r.notBefore !== undefined && { nbf: r.notBefore }),
    nonce: ucanNonce(),
  });
  return { token, cid: await cidOfBytes(Buffer.from(token, 'utf8')), kind: 'ucan' };
}

/** A proof given on the command line: a CID, or the delegation itself (inline or in a file). */
export interface Proof {
  readonly cid: CID;
  /** Present when the token was given: it can be registered, and its capabilities read. */
  readonly token?: string;
  readonly envelope?: SignedEnvelope;
}

/** Decode a token with the node's own decoder, so what the CLI accepts is what a node accepts. */
export async function decodeToken(token: string, what = 'token'): Promise<SignedEnvelope> {
  const decoded = await decodeAuthorization(token.trim());
  if (!decoded.ok) throw usageError(`${what} is not a delegation: ${decoded.error.message}`);
  return decoded.value;
}

/** Parse `--proof TOKEN|CID|FILE`. */
export async function parseProof(text: string): Promise<Proof> {
  const trimmed = text.trim();
  const cid = parseCid(trimmed);
  if (cid && trimmed.length < 128) return { cid };
  let token = trimmed;
  const isFile = trimmed.length < 4096 && (await stat(trimmed).then((s) => s.isFile(), () => false));
  if (isFile) token = (await readFile(trimmed, 'utf8')).trim();
  const envelope = await decodeToken(token, isFile ? `--proof ${trimmed}` : '--proof');
  return { cid: envelope.cid, token, envelope };
}

/** What `tinycloud delegate --json` prints: stable fields. */
export interface DelegationSummary {
  readonly token: string;
  /** CIDv1 raw, BLAKE3, base32 (`bafkr4i…`): the id `delegate revoke` takes. */
  readonly cid: string;
  /** The signer: `did:pkh:eip155:…` for an owner CACAO, `did:key:…` for a UCAN. */
  readonly issuer: string;
  readonly audience: string;
  readonly capabilities: readonly { readonly resource: string; readonly ability: string }[];
  /** RFC 3339, or null when the delegation never expires. */
  readonly expiresAt: string | null;
  readonly notBefore: string | null;
  /** Parent CIDs (base32). */
  readonly proofs: readonly string[];
  readonly kind: 'cacao' | 'ucan';
}

export function summarizeDelegation(token: string, envelope: SignedEnvelope): DelegationSummary {
  const { info } = envelope;
  return {
    token,
    cid: cidToBase32(envelope.cid),
    issuer: info.delegator,
    audience: info.delegatee,
    capabilities: info.capabilities.map((c) => ({ resource: c.resource, ability: c.ability })),
    expiresAt: info.expiry === undefined ? null : new Date(info.expiry * 1000).toISOString(),
    notBefore: info.notBefore === undefined ? null : new Date(info.notBefore * 1000).toISOString(),
    proofs: info.parentCids.map(cidToBase32),
    kind: envelope.kind,
  };
}
