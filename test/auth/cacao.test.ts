import { encode as encodeDagCbor } from '@ipld/dag-cbor';
import { base58btc as base58 } from 'multiformats/bases/base58';
import { describe, expect, it } from 'vitest';
import {
  decodeAuthorization,
  decodeCacaoEnvelope,
  encodeBase64UrlPadded,
  parseRfc3339,
  renderSiweMessage,
  verifyEnvelope,
  type CacaoEnvelope,
  type SiweFields,
} from '../../src/core/auth/index.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import { alice, bob, mallory, sessionSiweFields, signedCacao, type SessionGrant } from './principals.js';

const kvGrant: SessionGrant = {
  att: { [`${alice.space()}/kv/photos/`]: { 'tinycloud.kv/get': [{}], 'tinycloud.kv/put': [{}] } },
  expirationTime: '2026-01-01T01:00:00.000Z',
};
const JAN1 = parseRfc3339('2026-01-01T00:30:00Z')!;

async function decoded(bytes: Uint8Array, legacy = false): Promise<CacaoEnvelope> {
  const env = await decodeCacaoEnvelope(bytes, { legacy });
  if (!env.ok) throw env.error;
  return env.value;
}

async function refusal(bytes: Uint8Array, legacy = false): Promise<string> {
  const env = await decodeCacaoEnvelope(bytes, { legacy });
  return env.ok ? 'accepted' : env.error.code;
}

/** The same CACAO as plain DAG-CBOR (canonical key order), with overrides, signed over `fields` by `signer`. */
function canonicalOrderCacao(fields: SiweFields, signer = alice, patch: Record<string, unknown> = {}, sigPatch: unknown = undefined) {
  const signature = Buffer.from(signer.wallet.signMessageSync(renderSiweMessage(fields)).slice(2), 'hex');
  const p: Record<string, unknown> = {
    domain: fields.domain,
    iss: `did:pkh:eip155:1:${fields.address}`,
    aud: fields.uri,
    version: 1,
    nonce: fields.nonce,
    iat: fields.issuedAt,
    ...(fields.statement !== undefined && { statement: fields.statement }),
    ...(fields.expirationTime !== undefined && { exp: fields.expirationTime }),
    ...(fields.notBefore !== undefined && { nbf: fields.notBefore }),
    ...(fields.resources !== undefined && { resources: fields.resources }),
    ...patch,
  };
  return encodeDagCbor({ h: { t: 'eip4361' }, p, s: { t: 'eip191', s: sigPatch ?? new Uint8Array(signature) } });
}

describe('CACAO session delegation', () => {
  const fields = sessionSiweFields(alice, kvGrant);

  it('decodes into a normalized delegation from the wallet to the session key', async () => {
    const env = await decoded(signedCacao(fields, alice));
    expect(env.dialect).toBe('protocol1');
    expect(env.info.delegator).toBe(alice.pkh);
    expect(env.info.audience).toBe(alice.sessionVm);
    expect(env.info.delegatee).toBe(alice.sessionDid);
    expect(env.info.capabilities.map((c) => [c.resource, c.ability, c.caveats])).toEqual([
      [`${alice.space()}/kv/photos/`, 'tinycloud.kv/get', []],
      [`${alice.space()}/kv/photos/`, 'tinycloud.kv/put', []],
    ]);
    expect(env.info.issuedAt).toBe(parseRfc3339('2026-01-01T00:00:00.000Z'));
    expect(env.info.expiry).toBe(parseRfc3339('2026-01-01T01:00:00.000Z'));
    expect(env.info.nonce).toBe(fields.nonce);
    expect(env.info.parents).toEqual([]);
    expect(env.info.terminal).toBe(false);
    expect(verifyEnvelope(env, JAN1).ok).toBe(true);
  });

  it('writes the Rust SDK field order: h, p, s; domain, iss, statement, aud, version, nonce, iat, exp, resources', () => {
    const bytes = Buffer.from(signedCacao(fields, alice));
    const key = (k: string) => Buffer.from([0x60 + k.length, ...Buffer.from(k)]);
    // {"h": {"t": "eip4361"}, "p": …
    expect(bytes.subarray(0, 16).toString('hex')).toBe(`a3${key('h').toString('hex')}a1${key('t').toString('hex')}67${Buffer.from('eip4361').toString('hex')}${key('p').toString('hex')}`);
    // … "s": {"s": bytes(65), "t": "eip191"}}
    expect(bytes.subarray(-81, -74).toString('hex')).toBe(`${key('s').toString('hex')}a2${key('s').toString('hex')}5841`);
    expect(bytes.subarray(-9).toString('hex')).toBe(`${key('t').toString('hex')}66${Buffer.from('eip191').toString('hex')}`);
    const order = ['domain', 'iss', 'statement', 'aud', 'version', 'nonce', 'iat', 'exp', 'resources'].map((k) => bytes.indexOf(key(k)));
    expect(order.every((pos, i) => pos > 0 && (i === 0 || pos > (order[i - 1] as number)))).toBe(true);
  });

  it('accepts any key order and keeps each encoding as its own bytes and CID', async () => {
    const rust = await decoded(signedCacao(fields, alice));
    const canonical = await decoded(canonicalOrderCacao(fields));
    expect(canonical.info).toEqual(rust.info);
    expect(verifyEnvelope(canonical, JAN1).ok).toBe(true);
    expect(canonical.cid.equals(rust.cid)).toBe(false);
    expect(Buffer.from(canonical.signedDigest).equals(Buffer.from(rust.signedDigest))).toBe(true);
  });

  it('names itself by CIDv1 raw BLAKE3 over the exact bytes, from padded or unpadded base64url', async () => {
    const bytes = signedCacao(fields, alice);
    const padded = encodeBase64UrlPadded(bytes);
    const unpadded = Buffer.from(bytes).toString('base64url');
    expect(padded === unpadded).toBe(bytes.length % 3 === 0);
    const a = await decodeAuthorization(padded);
    const b = await decodeAuthorization(unpadded);
    if (!a.ok || !b.ok) throw new Error('decode failed');
    expect(a.value.cid.toString()).toBe(b.value.cid.toString());
    expect(a.value.cid.toString().startsWith('bafkr4i')).toBe(true);
    expect(Buffer.from(a.value.cid.multihash.digest).equals(Buffer.from(await blake3(bytes)))).toBe(true);
    expect(Buffer.from(a.value.multihash).subarray(0, 2).toString('hex')).toBe('1e20');
  });

  it('verifies a lower-case iss against the EIP-55 text the wallet signed, storing the canonical DID', async () => {
    const lower = { ...fields, address: alice.wallet.address.toLowerCase() };
    const env = await decoded(canonicalOrderCacao(lower));
    expect(env.siweMessage.split('\n')[1]).toBe(alice.wallet.address);
    expect(env.info.delegator).toBe(alice.pkh);
    expect(verifyEnvelope(env, JAN1).ok).toBe(true);
  });

  it('refuses a delegation of alice signed by mallory', async () => {
    const env = await decoded(signedCacao(fields, mallory));
    const verified = verifyEnvelope(env, JAN1);
    expect(verified.ok || verified.error.code).toBe('AUTH_BAD_SIGNATURE');
  });

  it('refuses a payload altered after signing', async () => {
    const env = await decoded(canonicalOrderCacao(fields, alice, { aud: bob.sessionVm }));
    const verified = verifyEnvelope(env, JAN1);
    expect(verified.ok || verified.error.code).toBe('AUTH_BAD_SIGNATURE');
  });
});

describe('CACAO time window (WIRE §2.2)', () => {
  const env = (grant: Partial<SessionGrant>) => decoded(signedCacao(sessionSiweFields(alice, { ...kvGrant, ...grant }), alice));

  it('is valid up to and including exp, expired after', async () => {
    const e = await env({});
    expect(verifyEnvelope(e, e.info.expiry!).ok).toBe(true);
    const after = verifyEnvelope(e, e.info.expiry! + 0.001);
    expect(after.ok || after.error.code).toBe('AUTH_EXPIRED');
  });

  it('needs nbf strictly before now', async () => {
    const e = await env({ notBefore: '2026-01-01T00:10:00.000Z' });
    const at = verifyEnvelope(e, e.info.notBefore!);
    expect(at.ok || at.error.code).toBe('AUTH_NOT_YET_VALID');
    expect(verifyEnvelope(e, e.info.notBefore! + 0.001).ok).toBe(true);
  });

  it('has no end without exp', async () => {
    const { expirationTime: _, ...noExpiry } = kvGrant;
    const e = await decoded(signedCacao(sessionSiweFields(alice, noExpiry), alice));
    expect(e.info.expiry).toBeUndefined();
    expect(verifyEnvelope(e, JAN1 + 1e9).ok).toBe(true);
  });
});

describe('CACAO recap rules', () => {
  it('refuses a statement that does not end with the generated text', async () => {
    const fields = { ...sessionSiweFields(alice, kvGrant), statement: 'I authorize everything.' };
    expect(await refusal(signedCacao(fields, alice))).toBe('AUTH_INVALID_RECAP');
  });

  it('accepts a custom statement prefix', async () => {
    const fields = sessionSiweFields(alice, { ...kvGrant, statementPrefix: 'Welcome to the photo app.' });
    expect(await refusal(signedCacao(fields, alice))).toBe('accepted');
  });

  it('refuses a recap that is not the last resource', async () => {
    const base = sessionSiweFields(alice, kvGrant);
    const fields = { ...base, resources: [...base.resources!, 'https://app.example/tos'] };
    expect(await refusal(signedCacao(fields, alice))).toBe('AUTH_INVALID_RECAP');
  });

  it('gives no capabilities when no recap is present', async () => {
    const { resources: _, ...fields } = sessionSiweFields(alice, kvGrant);
    const env = await decoded(signedCacao({ ...fields, statement: 'Sign in.' }, alice));
    expect(env.info.capabilities).toEqual([]);
  });

  it('refuses caveats in a SIWE delegation, but reads null-valued ones as none', async () => {
    const resource = `${alice.space()}/kv/x`;
    const caveated = { att: { [resource]: { 'tinycloud.kv/get': [{ max: 1 }] } } };
    expect(await refusal(signedCacao(sessionSiweFields(alice, caveated), alice))).toBe('AUTH_INVALID_RECAP');
    const nulls = { att: { [resource]: { 'tinycloud.kv/get': [{ max: null }] } } };
    const env = await decoded(signedCacao(sessionSiweFields(alice, nulls), alice));
    expect(env.info.capabilities[0]?.caveats).toEqual([]);
  });

  it('refuses an invalid tinycloud resource instead of treating it as a plain URI', async () => {
    const bad = { att: { [`${alice.space()}/kv/a/../b`]: { 'tinycloud.kv/get': [{}] } } };
    expect(await refusal(signedCacao(sessionSiweFields(alice, bad), alice))).toBe('INVALID_RESOURCE');
  });

  it('reads recap prf CIDs as parents (their multihashes)', async () => {
    const parent = await decoded(signedCacao(sessionSiweFields(alice, kvGrant), alice));
    const grant = { ...kvGrant, prf: [parent.cid.toString(base58)] };
    const env = await decoded(signedCacao(sessionSiweFields(alice, grant), alice));
    expect(env.info.parentCids.map((c) => c.toString())).toEqual([parent.cid.toString()]);
    expect(Buffer.from(env.info.parents[0]!).equals(Buffer.from(parent.multihash))).toBe(true);
  });
});

describe('CACAO decoding strictness', () => {
  const fields = sessionSiweFields(alice, kvGrant);

  it.each([
    ['a line break in the statement', { statement: 'a\nURI: x' }],
    ['an unknown payload key', { extra: 'x' }],
    ['a domain that is not an authority', { domain: 'a b' }],
    ['a non-RFC 3339 iat', { iat: 'yesterday' }],
    ['a short nonce', { nonce: 'abc' }],
    ['a string version', { version: '1' }],
    ['a version other than 1', { version: 2 }],
    ['a non-pkh issuer', { iss: alice.sessionDid }],
  ])('refuses %s', async (_, patch) => {
    expect(await refusal(canonicalOrderCacao(fields, alice, patch))).toBe('AUTH_MALFORMED');
  });

  it('refuses an integer-array signature on the protocol-1 path', async () => {
    const ints = Array.from(new Uint8Array(65));
    expect(await refusal(canonicalOrderCacao(fields, alice, {}, ints))).toBe('AUTH_MALFORMED');
  });

  it('accepts the legacy string version and integer-array signature only with the legacy option', async () => {
    const signature = Buffer.from(alice.wallet.signMessageSync(renderSiweMessage(fields)).slice(2), 'hex');
    const bytes = canonicalOrderCacao(fields, alice, { version: '1' }, Array.from(signature));
    expect(await refusal(bytes)).toBe('AUTH_MALFORMED');
    const env = await decoded(bytes, true);
    expect(env.dialect).toBe('legacy');
    expect(verifyEnvelope(env, JAN1).ok).toBe(true);
  });

  it('refuses trailing bytes, garbage and a wrong signature length', async () => {
    const bytes = signedCacao(fields, alice);
    expect(await refusal(Uint8Array.from([...bytes, 0]))).toBe('AUTH_MALFORMED');
    expect(await refusal(Buffer.from('not cbor at all'))).toBe('AUTH_MALFORMED');
    expect(await refusal(canonicalOrderCacao(fields, alice, {}, new Uint8Array(64)))).toBe('AUTH_MALFORMED');
  });

});
