import type { Readable } from 'node:stream';
import type { Capability } from '../../auth/types.js';
import type { BlockSource } from '../../blocks/store.js';
import type { CID } from '../../ids/cid.js';
import type { HeaderBag } from './headers.js';

/**
 * What the KV service needs of an invocation that the auth guard has already authorized. A verified
 * `SignedEnvelope` fits as is: capabilities have been checked against the chain before the service sees them.
 */
export interface KvInvocation {
  /** CIDv1 raw over the exact invocation bytes: the version id of every write it makes. */
  readonly cid: CID;
  /** 34-byte BLAKE3 multihash of the invocation bytes (the event hash). */
  readonly multihash: Uint8Array;
  /** The exact serialized invocation (the UCAN's JWS string). */
  readonly bytes: Uint8Array;
  readonly info: {
    /** The invoker, as a principal DID (no fragment). */
    readonly delegator: string;
    readonly capabilities: readonly Capability[];
    readonly facts: readonly Readonly<Record<string, unknown>>[];
    readonly expiry?: number;
    readonly issuedAt?: number;
    /** Multihashes of the delegations it cites. */
    readonly parents: readonly Uint8Array[];
  };
}

export interface KvRequest {
  headers: HeaderBag;
  /** The request body: a put's value or a multipart batch; ignored by reads. */
  body?: BlockSource;
}

/** An HTTP-shaped answer the daemon sends as is; `body` streams when it is a Readable. */
export interface KvResponse {
  status: number;
  headers: Record<string, string>;
  body?: Readable | Uint8Array | string;
}
