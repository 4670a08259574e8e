import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { base58btc } from 'multiformats/bases/base58';
import { describe, expect, it } from 'vitest';
import {
  canonicalDid,
  decodeDidKey,
  didKeyFromEd25519,
  didKeyVerificationMethod,
  parseDidPkh,
  principalOf,
  principalsMatch,
  signEd25519,
} from '../../src/core/auth/index.js';
import { alice, bob } from './principals.js';

const didKeyOf = (prefix: number[], publicKey: Uint8Array) =>
  `did:key:${base58btc.encode(Uint8Array.from([...prefix, ...publicKey]))}`;
const message = Buffer.from('the signed bytes');

describe('did:key', () => {
  it('decodes an Ed25519 key (z6Mk…) that verifies its own signatures only', () => {
    const key = decodeDidKey(alice.sessionDid);
    if (!key.ok) throw key.error;
    expect(alice.sessionDid.startsWith('did:key:z6Mk')).toBe(true);
    expect(key.value.type).toBe('Ed25519');
    expect(Buffer.from(key.value.publicKey).equals(Buffer.from(alice.session.publicKey))).toBe(true);
    expect(key.value.verify(message, signEd25519(alice.session.secretKey, message))).toBe(true);
    expect(key.value.verify(message, signEd25519(bob.session.secretKey, message))).toBe(false);
  });

  it('round-trips the Ed25519 encoding', () => {
    expect(didKeyFromEd25519(alice.session.publicKey)).toBe(alice.sessionDid);
  });

  it('accepts the verification method X#X but no other fragment', () => {
    expect(alice.sessionVm).toBe(`${alice.sessionDid}#${alice.sessionDid.slice(8)}`);
    expect(decodeDidKey(alice.sessionVm).ok).toBe(true);
    expect(decodeDidKey(`${alice.sessionDid}#${bob.sessionDid.slice(8)}`).ok).toBe(false);
    expect(didKeyVerificationMethod(alice.sessionVm)).toBe(alice.sessionVm);
  });

  it('decodes secp256k1 (0xe7 0x01) keys and verifies ES256K signatures over SHA-256', () => {
    const { secretKey, publicKey } = secp256k1.keygen();
    const key = decodeDidKey(didKeyOf([0xe7, 0x01], publicKey));
    if (!key.ok) throw key.error;
    expect(key.value.type).toBe('secp256k1');
    expect(key.value.verify(message, secp256k1.sign(message, secretKey))).toBe(true);
    expect(key.value.verify(Buffer.from('other'), secp256k1.sign(message, secretKey))).toBe(false);
  });

  it('decodes P-256 (0x80 0x24) keys and verifies ES256 signatures, high S included', () => {
    const { secretKey, publicKey } = p256.keygen();
    const key = decodeDidKey(didKeyOf([0x80, 0x24], publicKey));
    if (!key.ok) throw key.error;
    expect(key.value.type).toBe('P-256');
    const sig = p256.sign(message, secretKey);
    expect(key.value.verify(message, sig)).toBe(true);
    const n = p256.Point.CURVE().n;
    const s = BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`);
    const highS = Uint8Array.from([...sig.subarray(0, 32), ...Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex')]);
    expect(key.value.verify(message, highS)).toBe(true);
  });

  it('refuses unknown multicodecs, bad lengths, non-base58 and off-curve points', () => {
    expect(decodeDidKey(didKeyOf([0x12, 0x00], new Uint8Array(32))).ok).toBe(false);
    expect(decodeDidKey(didKeyOf([0xed, 0x01], new Uint8Array(31))).ok).toBe(false);
    expect(decodeDidKey(didKeyOf([0xe7, 0x01], Uint8Array.from([2, ...new Uint8Array(32).fill(0xff)]))).ok).toBe(false);
    expect(decodeDidKey('did:key:uABC').ok).toBe(false);
    expect(decodeDidKey('did:key:z0OIl').ok).toBe(false);
    expect(decodeDidKey('did:web:example.com').ok).toBe(false);
  });
});

describe('did:pkh:eip155 and EIP-55', () => {
  it('canonicalizes a lower-case address to EIP-55', () => {
    const pkh = parseDidPkh('did:pkh:eip155:1:0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266');
    expect(pkh.ok && pkh.value.did).toBe('did:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    expect(pkh.ok && pkh.value.chainId).toBe(1);
  });

  it('refuses a mixed-case address with a wrong checksum, chain id 0, leading zeros and short addresses', () => {
    expect(parseDidPkh('did:pkh:eip155:1:0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266').ok).toBe(false);
    expect(parseDidPkh('did:pkh:eip155:0:0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266').ok).toBe(false);
    expect(parseDidPkh('did:pkh:eip155:01:0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266').ok).toBe(false);
    expect(parseDidPkh('did:pkh:eip155:1:0xf39fd6e51aad88f6f4ce6ab8827279cfffb922').ok).toBe(false);
  });

  it('leaves other DID methods as they are', () => {
    expect(canonicalDid('did:web:example.com')).toBe('did:web:example.com');
  });
});

describe('principals', () => {
  it('strip the fragment and canonicalize did:pkh before comparing', () => {
    expect(principalOf(alice.sessionVm)).toBe(alice.sessionDid);
    expect(principalsMatch(alice.sessionVm, alice.sessionDid)).toBe(true);
    expect(principalsMatch(alice.pkh.toLowerCase().replace('did:pkh:eip155:1:0x', 'did:pkh:eip155:1:0x'), alice.pkh)).toBe(true);
    expect(principalsMatch(alice.pkh, bob.pkh)).toBe(false);
    expect(principalsMatch(alice.sessionDid, bob.sessionDid)).toBe(false);
  });
});
