import { describe, expect, it } from 'vitest';
import { decodeAuthorization, detectEnvelopeKind, signUcan } from '../../src/core/auth/index.js';
import { alice, sessionSiweFields, signedCacao } from './principals.js';

const token = signUcan({
  issuerKey: alice.session,
  audience: alice.sessionDid,
  att: { [`${alice.space()}/kv/x`]: { 'tinycloud.kv/get': [{}] } },
  exp: 2_000_000_000,
});
const cacaoHeader = Buffer.from(
  signedCacao(sessionSiweFields(alice, { att: { [`${alice.space()}/kv`]: { 'tinycloud.kv/get': [{}] } } }), alice),
).toString('base64url');

const codeOf = async (header: string) => {
  const env = await decodeAuthorization(header);
  return env.ok ? env.value.kind : env.error.code;
};

describe('Authorization header (WIRE §2.1)', () => {
  it('detects a UCAN by its dot and anything else as base64url CACAO', async () => {
    expect(detectEnvelopeKind(token)).toBe('ucan');
    expect(detectEnvelopeKind(cacaoHeader)).toBe('cacao');
    expect(await codeOf(token)).toBe('ucan');
    expect(await codeOf(cacaoHeader)).toBe('cacao');
  });

  it('reports a missing header', async () => {
    expect(await codeOf('')).toBe('AUTH_MISSING');
  });

  it.each([
    ['a Bearer-prefixed UCAN', `Bearer ${token}`],
    ['a Bearer-prefixed CACAO', `Bearer ${cacaoHeader}`],
    ['garbage', 'hello world'],
    ['a truncated UCAN', token.slice(0, token.lastIndexOf('.'))],
    ['a truncated CACAO', cacaoHeader.slice(0, 40)],
    ['standard base64 with + and /', Buffer.from(Buffer.from(cacaoHeader, 'base64url')).toString('base64').replace(/[A-Za-z]/, '+')],
    ['misplaced padding', `${cacaoHeader.slice(0, 8)}=${cacaoHeader.slice(8)}`],
  ])('refuses %s as malformed', async (_, header) => {
    expect(await codeOf(header)).toBe('AUTH_MALFORMED');
  });

  it('refuses a 1 MiB header before decoding it', async () => {
    const started = performance.now();
    expect(await codeOf(`${token}${'A'.repeat(1024 * 1024)}`)).toBe('AUTH_MALFORMED');
    expect(await codeOf('A'.repeat(1024 * 1024))).toBe('AUTH_MALFORMED');
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
