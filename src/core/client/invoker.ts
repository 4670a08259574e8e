import type { Attenuations } from '../auth/recap.js';
import { signUcan } from '../auth/ucan.js';
import { cidToBase32, type CID } from '../ids/cid.js';
import { ucanNonce } from './delegation.js';
import type { DidKeySigner } from './keys.js';
import type { Session } from './session.js';
import { nowSeconds } from './time.js';

/**
 * Invocation lifetime. Every token is single-use (WIRE §2.12) and minted just before its request, so it only has
 * to outlive the trip; the reference caps lifetimes at 300 s.
 */
export const INVOCATION_TTL_SECONDS = 60;

/** Signs invocations: a fresh single-use UCAN per request (WIRE §2.5). */
export interface Invoker {
  /** The principal that signs: a session key, or the delegate's own did:key. */
  readonly did: string;
  invocation(att: Attenuations, facts?: readonly Readonly<Record<string, unknown>>[]): string;
}

/**
 * `invoke_any` as the SDK builds it: `iss` = the key's `did:key:X#X`, `aud` = the same DID, `prf` = the cited
 * delegations, `nnc` = a fresh `urn:uuid`, `exp` = now + 60 s, no `nbf`.
 */
export function keyInvoker(signer: DidKeySigner, proofs: readonly CID[]): Invoker {
  const prf = proofs.map(cidToBase32);
  return {
    did: signer.did,
    invocation: (att, facts) =>
      signUcan({
        issuerKey: signer.keyPair,
        audience: signer.did,
        att,
        prf,
        exp: nowSeconds() + INVOCATION_TTL_SECONDS,
        nonce: ucanNonce(),
        ...(facts && facts.length > 0 && { facts }),
      }),
  };
}

/** An owner session signs with its session key, citing the session CACAO. */
export const sessionInvoker = (session: Session): Invoker => keyInvoker(session.key, [session.cid]);
