import type { SiweMessage } from 'siwe';
import type { SiweFields } from '../../src/core/auth/index.js';

/**
 * The fields a SIWE message parsed by the independent `siwe` package carries (no scheme, `Not Before` or
 * `Request ID`: add those where a vector may have them).
 */
export function siweFieldsOf(m: SiweMessage): SiweFields {
  return {
    domain: m.domain,
    address: m.address,
    statement: m.statement,
    uri: m.uri,
    chainId: m.chainId,
    nonce: m.nonce,
    issuedAt: m.issuedAt as string,
    expirationTime: m.expirationTime,
    resources: m.resources,
  };
}
