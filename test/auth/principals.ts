import { Wallet } from 'ethers';
import {
  cacaoPayloadOfSiwe,
  didKeyFromEd25519,
  didKeyVerificationMethod,
  encodeCacao,
  encodeRecap,
  generateEd25519Key,
  renderSiweMessage,
  spaceIdFor,
  statementFor,
  type Attenuations,
  type Ed25519KeyPair,
  type SiweFields,
} from '../../src/core/auth/index.js';
import { unwrap } from '../../src/core/result.js';

/** A named test principal: an Ethereum wallet (the space owner) and an Ed25519 session key. */
export interface Principal {
  readonly name: string;
  readonly wallet: Wallet;
  readonly pkh: string;
  readonly session: Ed25519KeyPair;
  readonly sessionDid: string;
  /** `did:key:X#X`, what the session signs UCANs as. */
  readonly sessionVm: string;
  space(name?: string): string;
}

function principal(name: string): Principal {
  const wallet = Wallet.createRandom() as unknown as Wallet;
  const session = generateEd25519Key();
  const sessionDid = didKeyFromEd25519(session.publicKey);
  const pkh = `did:pkh:eip155:1:${wallet.address}`;
  return {
    name,
    wallet,
    pkh,
    session,
    sessionDid,
    sessionVm: didKeyVerificationMethod(sessionDid),
    space: (spaceName = 'default') => unwrap(spaceIdFor(pkh, spaceName)).text,
  };
}

export const alice = principal('alice');
export const bob = principal('bob');
export const mallory = principal('mallory');

export interface SessionGrant {
  readonly att: Attenuations;
  readonly prf?: readonly string[];
  readonly audience?: string;
  readonly issuedAt?: string;
  readonly expirationTime?: string;
  readonly notBefore?: string;
  readonly statementPrefix?: string;
  readonly nonce?: string;
}

/** The SIWE fields of a session delegation from `owner`'s wallet to its session key (WIRE §2.11). */
export function sessionSiweFields(owner: Principal, grant: SessionGrant): SiweFields {
  return {
    domain: 'app.example',
    address: owner.wallet.address,
    statement: statementFor(grant.att, grant.statementPrefix),
    uri: grant.audience ?? owner.sessionVm,
    chainId: 1,
    nonce: grant.nonce ?? 'n0nceN0nce42',
    issuedAt: grant.issuedAt ?? '2026-01-01T00:00:00.000Z',
    ...(grant.expirationTime !== undefined && { expirationTime: grant.expirationTime }),
    ...(grant.notBefore !== undefined && { notBefore: grant.notBefore }),
    resources: [encodeRecap({ att: grant.att, prf: grant.prf ?? [] })],
  };
}

/** CACAO bytes for SIWE fields, signed by `signer`'s wallet (normally the owner; mallory for forgeries). */
export function signedCacao(fields: SiweFields, signer: Principal): Uint8Array {
  const signature = signer.wallet.signMessageSync(renderSiweMessage(fields));
  return encodeCacao(cacaoPayloadOfSiwe(fields), Buffer.from(signature.slice(2), 'hex'));
}
