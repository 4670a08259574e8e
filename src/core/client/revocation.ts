import { cidToBase32, type CID } from '../ids/cid.js';
import { keyInvoker } from './invoker.js';
import type { DidKeySigner } from './keys.js';

export const REVOKE_ABILITY = 'tinycloud.delegation/revoke';

/**
 * The SDK's revocation (WIRE §2.10): a UCAN holding `tinycloud.delegation/revoke` on `urn:cid:<target>`. With a
 * proof (an owner session), the proof's delegator is the revoker; without one, the signing key itself is.
 */
export function revocationToken(signer: DidKeySigner, target: CID, proofs: readonly CID[]): string {
  return keyInvoker(signer, proofs).invocation({ [`urn:cid:${cidToBase32(target)}`]: { [REVOKE_ABILITY]: [{}] } });
}
