import type { CID } from '../ids/cid.js';
import type { VerificationKey } from './did.js';
import type { ParsedResource } from './resource.js';

/** One caveat object (`nb`). An unconstrained capability carries no caveats at all. */
export type Caveat = Readonly<Record<string, unknown>>;

/**
 * One (resource, ability) pair granted or invoked. `resource` is the canonical text (EIP-55 addresses, paths as
 * written); `caveats` is empty for the wire form `[{}]`.
 */
export interface Capability {
  readonly resource: string;
  readonly target: ParsedResource;
  readonly ability: string;
  readonly caveats: readonly Caveat[];
}

export type EnvelopeKind = 'cacao' | 'ucan';

/** `legacy` marks an envelope that needed the 0.2.1 "orbit" mapping (WIRE §14) to become protocol 1. */
export type Dialect = 'protocol1' | 'legacy';

/**
 * What a delegation, invocation or revocation says, normalized to protocol 1 (WIRE §2.7). Times are epoch
 * seconds and may be fractional.
 */
export interface DelegationInfo {
  /** The signer's DID URL as sent (`did:key:X#X`, `did:pkh:…`). */
  readonly issuer: string;
  /** `issuer` without fragment, did:pkh canonical. */
  readonly delegator: string;
  /** The audience as sent (the SIWE URI of a CACAO). */
  readonly audience: string;
  /** `audience` without fragment, did:pkh canonical. */
  readonly delegatee: string;
  readonly capabilities: readonly Capability[];
  /** Parent CIDs as cited (recap `prf` or UCAN `prf`). */
  readonly parentCids: readonly CID[];
  /** The 34-byte BLAKE3 multihashes of `parentCids`: the DB keys, codec ignored. */
  readonly parents: readonly Uint8Array[];
  readonly expiry?: number;
  readonly notBefore?: number;
  readonly issuedAt?: number;
  readonly nonce?: string;
  /** UCAN `fct` entries; empty for CACAO. */
  readonly facts: readonly Readonly<Record<string, unknown>>[];
  /** A `xyz.tinycloud.policy/delegationMode: terminal` fact: the delegatee may not re-delegate. */
  readonly terminal: boolean;
}

/** A decoded, not yet verified, authorization token. */
export interface SignedEnvelopeBase {
  readonly kind: EnvelopeKind;
  readonly dialect: Dialect;
  /** The exact serialized bytes: the CBOR of a CACAO, the UTF-8 of a UCAN's whole JWS string. */
  readonly bytes: Uint8Array;
  /** CIDv1 raw (0x55), BLAKE3-256 over `bytes`. */
  readonly cid: CID;
  /** 34-byte multihash of `bytes` (`1e 20 ‖ digest`). */
  readonly multihash: Uint8Array;
  /**
   * BLAKE3-256 of the bytes the signature covers (the SIWE text, or the JWS `header.payload`). Two envelopes
   * that re-encode the same signed message (CBOR key order, ECDSA `s` malleation) share it while their CIDs
   * differ, so it is the key to use when one signed grant must not come back under another CID.
   */
  readonly signedDigest: Uint8Array;
  readonly info: DelegationInfo;
}

export interface CacaoEnvelope extends SignedEnvelopeBase {
  readonly kind: 'cacao';
  /** The EIP-4361 text the wallet signed, rendered from the payload. */
  readonly siweMessage: string;
  /** 65 bytes `r‖s‖v`. */
  readonly signature: Uint8Array;
  /** The address the SIWE signature must recover to (EIP-55). */
  readonly address: string;
}

export interface UcanEnvelope extends SignedEnvelopeBase {
  readonly kind: 'ucan';
  readonly token: string;
  readonly ucv: string;
  readonly alg: string;
  /** The ASCII `header.payload` exactly as received. */
  readonly signingInput: Uint8Array;
  readonly signature: Uint8Array;
  /** The key resolved from the issuer DID, or from the `jwk` header for did:pkh issuers. */
  readonly key: VerificationKey;
}

export type SignedEnvelope = CacaoEnvelope | UcanEnvelope;

export interface DecodeOptions {
  /** Accept the 0.2.1 "orbit" dialect (WIRE §14) and map it to protocol 1. Off by default. */
  readonly legacy?: boolean;
  /** Reject longer headers before decoding anything. Default 256 KiB. */
  readonly maxHeaderLength?: number;
}
