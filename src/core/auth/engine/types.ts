import type { CID } from '../../ids/cid.js';
import type { Capability, DelegationInfo, Dialect, UcanEnvelope } from '../types.js';

/** The engine's clock: epoch seconds, fractional. Injected so tests and replays can pin time. */
export type Clock = () => number;

/**
 * An invocation that passed every check (WIRE §2.8, §2.12): signature, time window, lifetime cap, chain,
 * revocation, containment, space existence, and single use. Services receive this and nothing else.
 */
export interface AuthorizedInvocation {
  /** The verified UCAN as received. */
  readonly envelope: UcanEnvelope;
  readonly info: DelegationInfo;
  /** The invoker principal (`iss` without fragment). */
  readonly invoker: string;
  /** Every `att` entry, each authorized, with its resource parsed. */
  readonly capabilities: readonly Capability[];
  /** Canonical ids of the spaces the capabilities name; all exist on this node. */
  readonly spaces: readonly string[];
  /** CIDv1 raw over the exact token bytes. */
  readonly cid: CID;
  /** The 34-byte BLAKE3 multihash of the token: its event id. */
  readonly multihash: Uint8Array;
  readonly facts: readonly Readonly<Record<string, unknown>>[];
  readonly dialect: Dialect;
  /** The clock reading the invocation was authorized at. */
  readonly authorizedAt: number;
}

/**
 * An invocation authorized by a control proof instead of a capability chain (`/delegation/status`, WIRE §2.10):
 * `principal` is the account the invoker speaks for (the proof's delegator, or the invoker itself), undefined when
 * the proof does not establish one.
 */
export interface ControlInvocation {
  readonly envelope: UcanEnvelope;
  readonly invoker: string;
  readonly principal: string | undefined;
  /** The `urn:cid:` target of the single capability. */
  readonly target: CID;
  readonly action: string;
  readonly authorizedAt: number;
}

/** `POST /delegate` answer (WIRE §1.5). */
export interface DelegateOutcome {
  /** base32 CIDv1 raw of the delegation bytes. */
  readonly cid: string;
  /** Spaces hosted here that received an epoch for this delegation. */
  readonly activated: string[];
  /** Spaces the delegation names that are not hosted here. */
  readonly skipped: string[];
  /** The delegation was already stored (byte-identical re-post). */
  readonly existing: boolean;
}

export interface RevokeOutcome {
  readonly revoked: true;
  /** The target CID as the revoker wrote it. */
  readonly cid: string;
}

export type DelegationLifecycle = 'active' | 'revoked' | 'expired' | 'unavailable';

export interface DelegationStatus {
  readonly cid: string;
  readonly status: DelegationLifecycle | 'not_found';
  readonly exists: boolean;
  readonly active: boolean;
  readonly revoked: boolean;
  readonly expired: boolean;
}

/** One record of `tinycloud.capabilities/read` (WIRE §4). */
export interface DelegationRecord {
  readonly capabilities: { resource: string; ability: string; caveats: Record<string, unknown> }[];
  readonly delegator: string;
  readonly delegate: string;
  readonly parents: string[];
  /** The delegation as an `Authorization` header: the JWT, or padded base64url CACAO. */
  readonly raw: string;
}
