import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { base58btc } from 'multiformats/bases/base58';
import { describe, expect, it } from 'vitest';
import {
  decodeAuthorization,
  signEd25519,
  signUcan,
  verifyEnvelope,
  type DecodeOptions,
  type UcanEnvelope,
} from '../../src/core/auth/index.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import { cidOfBytes } from '../../src/core/ids/cid.js';
import { alice, bob } from './principals.js';

const EXP = 1795211352.147;
const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

async function envelope(token: string, options: DecodeOptions = {}): Promise<UcanEnvelope> {
  const env = await decodeAuthorization(token, options);
  if (!env.ok) throw env.error;
  if (env.value.kind !== 'ucan') throw new Error('expected a UCAN');
  return env.value;
}

async function failure(token: string, now = EXP - 10, options: DecodeOptions = {}): Promise<string> {
  const env = await decodeAuthorization(token, options);
  if (!env.ok) return env.error.code;
  const verified = verifyEnvelope(env.value, now);
  return verified.ok ? 'accepted' : verified.error.code;
}

/** A JWS over arbitrary header and payload, signed by `sign` over the exact `header.payload` text. */
function jws(header: object, payload: object, sign: (input: Uint8Array) => Uint8Array): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${Buffer.from(sign(Buffer.from(input))).toString('base64url')}`;
}

const sessionCid = 'bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4';
const kvPut = { [`${alice.space()}/kv/photos/cat.jpg`]: { 'tinycloud.kv/put': [{}] } };
const invocation = (overrides: Partial<Parameters<typeof signUcan>[0]> = {}) =>
  signUcan({
    issuerKey: alice.session,
    audience: alice.sessionDid,
    att: kvPut,
    prf: [sessionCid],
    exp: EXP,
    nonce: 'urn:uuid:6cddaf48-fa15-4d9e-a870-3f5e2fbe242a',
    ...overrides,
  });
const basePayload = {
  iss: alice.sessionVm,
  aud: alice.sessionDid,
  exp: EXP,
  nnc: 'urn:uuid:1',
  prf: [sessionCid],
  att: kvPut,
};
const edHeader = { alg: 'EdDSA', typ: 'JWT', ucv: '0.10.0' };
const signAsAlice = (input: Uint8Array) => signEd25519(alice.session.secretKey, input);

describe('UCAN invocation (WIRE §2.5)', () => {
  it('decodes into a normalized invocation and verifies over the received segments', async () => {
    const token = invocation();
    const env = await envelope(token);
    expect(env.dialect).toBe('protocol1');
    expect(env.ucv).toBe('0.10.0');
    expect(env.info.issuer).toBe(alice.sessionVm);
    expect(env.info.delegator).toBe(alice.sessionDid);
    expect(env.info.delegatee).toBe(alice.sessionDid);
    expect(env.info.expiry).toBe(EXP);
    expect(env.info.nonce).toBe('urn:uuid:6cddaf48-fa15-4d9e-a870-3f5e2fbe242a');
    expect(env.info.capabilities.map((c) => [c.resource, c.ability, c.caveats])).toEqual([
      [`${alice.space()}/kv/photos/cat.jpg`, 'tinycloud.kv/put', []],
    ]);
    expect(env.info.parentCids.map(String)).toEqual([sessionCid]);
    expect(verifyEnvelope(env, EXP - 10).ok).toBe(true);
  });

  it('is named by BLAKE3 over the whole token string', async () => {
    const token = invocation();
    const env = await envelope(token);
    expect(env.cid.toString()).toBe((await cidOfBytes(Buffer.from(token))).toString());
    expect(Buffer.from(env.signedDigest).equals(Buffer.from(await blake3(Buffer.from(token.slice(0, token.lastIndexOf('.'))))))).toBe(true);
  });

  it('expires when now > exp (fractional), not at exp', async () => {
    expect(await failure(invocation(), EXP)).toBe('accepted');
    expect(await failure(invocation(), EXP + 0.001)).toBe('AUTH_EXPIRED');
  });

  it('is not valid before nbf, valid from nbf on', async () => {
    const token = invocation({ nbf: EXP - 100 });
    expect(await failure(token, EXP - 100.5)).toBe('AUTH_NOT_YET_VALID');
    expect(await failure(token, EXP - 100)).toBe('accepted');
  });

  it('refuses a payload signed by another key than its issuer', async () => {
    const token = jws(edHeader, basePayload, (input) => signEd25519(bob.session.secretKey, input));
    expect(await failure(token)).toBe('AUTH_BAD_SIGNATURE');
  });

  it('refuses a tampered payload under the original signature', async () => {
    const [header, , signature] = invocation().split('.');
    const tampered = `${header}.${b64({ ...basePayload, att: { [`${alice.space()}/kv`]: { 'tinycloud.kv/put': [{}] } } })}.${signature}`;
    expect(await failure(tampered)).toBe('AUTH_BAD_SIGNATURE');
  });

  it('refuses a second text form of the same signature (non-zero trailing base64url bits)', async () => {
    const token = invocation();
    const last = token.at(-1) as string;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = `${token.slice(0, -1)}${alphabet[alphabet.indexOf(last) ^ 1]}`;
    expect(Buffer.from(twin.split('.')[2] as string, 'base64url').equals(Buffer.from(token.split('.')[2] as string, 'base64url'))).toBe(true);
    expect(await failure(twin)).toBe('AUTH_MALFORMED');
  });

  it('accepts prf as DAG-JSON links {"/": cid}', async () => {
    const token = jws(edHeader, { ...basePayload, prf: [{ '/': sessionCid }] }, signAsAlice);
    const env = await envelope(token);
    expect(env.info.parentCids.map(String)).toEqual([sessionCid]);
    expect(verifyEnvelope(env, EXP - 1).ok).toBe(true);
  });

  it('keeps caveats other than [{}], facts, and reads the terminal fact', async () => {
    const token = invocation({
      att: { [`${alice.space()}/sql/db`]: { 'tinycloud.sql/read': [{ tables: ['a'] }] } },
      facts: [{ 'xyz.tinycloud.policy/delegationMode': 'terminal' }],
    });
    const env = await envelope(token);
    expect(env.info.capabilities[0]?.caveats).toEqual([{ tables: ['a'] }]);
    expect(env.info.facts).toEqual([{ 'xyz.tinycloud.policy/delegationMode': 'terminal' }]);
    expect(env.info.terminal).toBe(true);
  });

  it.each([
    ['no typ', { alg: 'EdDSA', ucv: '0.10.0' }, basePayload],
    ['another ucv', { ...edHeader, ucv: '0.8.1' }, basePayload],
    ['the 0.9 ucv without the legacy option', { ...edHeader, ucv: '0.9.0' }, basePayload],
    ['the array att without the legacy option', edHeader, { ...basePayload, att: [{ with: `${alice.space()}/kv/x`, can: 'tinycloud.kv/get' }] }],
    ['a string exp', edHeader, { ...basePayload, exp: String(EXP) }],
    ['no exp', edHeader, { ...basePayload, exp: undefined }],
    ['an empty caveat list', edHeader, { ...basePayload, att: { [`${alice.space()}/kv/x`]: { 'tinycloud.kv/get': [] } } }],
    ['a prf that is no CID', edHeader, { ...basePayload, prf: ['nope'] }],
  ])('refuses %s', async (_, header, payload) => {
    expect(await failure(jws(header, payload, signAsAlice))).toBe('AUTH_MALFORMED');
  });

  it('refuses an orbit resource outside the legacy dialect as a bad resource', async () => {
    const payload = { ...basePayload, att: { [`tinycloud:${alice.pkh.slice(4)}://default/kv/x`]: { 'tinycloud.kv/get': [{}] } } };
    expect(await failure(jws(edHeader, payload, signAsAlice))).toBe('INVALID_RESOURCE');
  });

  it('accepts ucv 0.9.0 with the array att under the legacy option, as protocol-1 values', async () => {
    const legacyPayload = { ...basePayload, att: [{ with: `tinycloud:${alice.pkh.slice(4)}://default/kv/x`, can: 'tinycloud.kv/get' }] };
    const token = jws({ ...edHeader, ucv: '0.9.0' }, legacyPayload, signAsAlice);
    const env = await envelope(token, { legacy: true });
    expect(env.dialect).toBe('legacy');
    expect(env.info.capabilities.map((c) => [c.resource, c.ability])).toEqual([[`${alice.space()}/kv/x`, 'tinycloud.kv/get']]);
    expect(verifyEnvelope(env, EXP - 1).ok).toBe(true);
  });
});

describe('UCAN issuers and algorithms', () => {
  const ethKey = (wallet: typeof alice.wallet) => Buffer.from(wallet.privateKey.slice(2), 'hex');
  const jwkOf = (secretKey: Uint8Array) => {
    const point = secp256k1.getPublicKey(secretKey, false);
    const part = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
    return { kty: 'EC', crv: 'secp256k1', x: part(point.subarray(1, 33)), y: part(point.subarray(33)) };
  };
  const pkhPayload = { ...basePayload, iss: alice.pkh, att: { [`${alice.space()}/kv`]: { 'tinycloud.kv/get': [{}] } } };
  const es256k = (input: Uint8Array) => secp256k1.sign(input, ethKey(alice.wallet));

  it('verifies a did:pkh issuer through its secp256k1 jwk header (ES256K)', async () => {
    const token = jws({ alg: 'ES256K', typ: 'JWT', ucv: '0.10.0', jwk: jwkOf(ethKey(alice.wallet)) }, pkhPayload, es256k);
    const env = await envelope(token);
    expect(env.info.delegator).toBe(alice.pkh);
    expect(verifyEnvelope(env, EXP - 1).ok).toBe(true);
  });

  it('refuses a did:pkh issuer whose jwk belongs to another account', async () => {
    const token = jws(
      { alg: 'ES256K', typ: 'JWT', ucv: '0.10.0', jwk: jwkOf(ethKey(bob.wallet)) },
      pkhPayload,
      (input) => secp256k1.sign(input, ethKey(bob.wallet)),
    );
    expect(await failure(token)).toBe('AUTH_BAD_SIGNATURE');
  });

  it('refuses a did:pkh issuer without a jwk', async () => {
    expect(await failure(jws({ alg: 'ES256K', typ: 'JWT', ucv: '0.10.0' }, pkhPayload, es256k))).toBe('AUTH_UNSUPPORTED');
  });

  it('verifies a P-256 did:key issuer (ES256)', async () => {
    const { secretKey, publicKey } = p256.keygen();
    const did = `did:key:${base58btc.encode(Uint8Array.from([0x80, 0x24, ...publicKey]))}`;
    const token = jws({ alg: 'ES256', typ: 'JWT', ucv: '0.10.0' }, { ...basePayload, iss: did }, (input) => p256.sign(input, secretKey));
    expect(await failure(token)).toBe('accepted');
  });

  it('refuses an alg that does not fit the key, and unknown algs', async () => {
    expect(await failure(jws({ ...edHeader, alg: 'ES256' }, basePayload, signAsAlice))).toBe('AUTH_BAD_SIGNATURE');
    expect(await failure(jws({ ...edHeader, alg: 'none' }, basePayload, () => new Uint8Array(0)))).toBe('AUTH_UNSUPPORTED');
  });
});
