import { Wallet } from 'ethers';
import { describe, expect, it } from 'vitest';
import { decodeAuthorization, verifyEnvelope } from '../../src/core/auth/index.js';
import {
  attenuationsFor,
  ClientError,
  encodeKvPath,
  failureFromResponse,
  newDidKey,
  normalizeAbility,
  parseDidKeyFile,
  parseDuration,
  parseTimeSpec,
  sessionAtt,
  signKeyDelegation,
  signOwnerDelegation,
  didKeyFileOf,
} from '../../src/core/client/index.js';
import { cidToBase32 } from '../../src/core/ids/cid.js';

const owner = Wallet.createRandom();
const signer = { address: owner.address, signMessage: async (m: string) => Buffer.from((await owner.signMessage(m)).slice(2), 'hex') };
const space = `tinycloud:pkh:eip155:1:${owner.address}:default`;
const now = Math.floor(Date.now() / 1000);

describe('what the client signs, the node verifies', () => {
  it('an owner CACAO decodes, carries the recap and verifies with the node\'s code', async () => {
    const bob = newDidKey();
    const signed = await signOwnerDelegation({
      owner: signer,
      chainId: 1,
      audience: bob.did,
      att: attenuationsFor(space, ['tinycloud.kv/get', 'tinycloud.kv/list'], 'photos/'),
      issuedAt: now,
      expiresAt: now + 3600,
    });
    const decoded = await decodeAuthorization(signed.token);
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(verifyEnvelope(decoded.value, now + 1).ok).toBe(true);
    expect(decoded.value.kind).toBe('cacao');
    expect(cidToBase32(decoded.value.cid)).toBe(cidToBase32(signed.cid));
    expect(decoded.value.info.delegatee).toBe(bob.did);
    expect(decoded.value.info.capabilities.map((c) => [c.resource, c.ability])).toEqual([
      [`${space}/kv/photos/`, 'tinycloud.kv/get'],
      [`${space}/kv/photos/`, 'tinycloud.kv/list'],
    ]);
    expect(signed.token.endsWith('=') || signed.token.length % 4 === 0).toBe(true);
  });

  it('a UCAN sub-delegation cites its proof and verifies', async () => {
    const bob = newDidKey();
    const carol = newDidKey();
    const parent = await signOwnerDelegation({ owner: signer, chainId: 1, audience: bob.did, att: sessionAtt(space), issuedAt: now, expiresAt: now + 60 });
    const child = await signKeyDelegation({ signer: bob, audience: carol.did, att: attenuationsFor(space, ['tinycloud.kv/get']), proofs: [parent.cid], expiresAt: now + 30 });
    const decoded = await decodeAuthorization(child.token);
    expect(decoded.ok && verifyEnvelope(decoded.value, now + 1).ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.value.info.parentCids.map(cidToBase32)).toEqual([cidToBase32(parent.cid)]);
    expect(decoded.value.info.delegator).toBe(bob.did);
    expect(decoded.value.info.nonce).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
  });
});

describe('inputs', () => {
  it('abilities: short forms get the tinycloud prefix, nonsense is a usage error', () => {
    expect(normalizeAbility('kv/get')).toBe('tinycloud.kv/get');
    expect(normalizeAbility('tinycloud.sql/read')).toBe('tinycloud.sql/read');
    expect(normalizeAbility('my.app/do')).toBe('my.app/do');
    expect(() => normalizeAbility('get')).toThrow(ClientError);
  });

  it('resources: space and delegation abilities never take a path', () => {
    expect(attenuationsFor(space, ['tinycloud.space/host', 'tinycloud.delegation/revoke', 'tinycloud.kv/put'], 'a/')).toEqual({
      [`${space}/space`]: { 'tinycloud.space/host': [{}] },
      [`${space}/delegation`]: { 'tinycloud.delegation/revoke': [{}] },
      [`${space}/kv/a/`]: { 'tinycloud.kv/put': [{}] },
    });
  });

  it('keys: only what a URI path cannot hold is escaped', () => {
    expect(encodeKvPath('photos/a.jpg')).toBe('photos/a.jpg');
    expect(encodeKvPath('my file.txt')).toBe('my%20file.txt');
    expect(encodeKvPath('é#?%2f')).toBe('%C3%A9%23%3F%2F');
  });

  it('times: durations from now or RFC 3339', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('7d')).toBe(604_800);
    expect(parseTimeSpec('1h', '--expires', 1000)).toBe(4600);
    expect(parseTimeSpec('2026-07-01T00:00:00Z', '--expires', 0)).toBe(Date.UTC(2026, 6, 1) / 1000);
    expect(() => parseTimeSpec('tomorrow', '--expires', 0)).toThrow(/--expires tomorrow/);
  });

  it('key files round-trip and refuse a mismatched DID', () => {
    const key = newDidKey();
    const file = didKeyFileOf(key);
    expect(parseDidKeyFile(JSON.stringify(file)).did).toBe(key.did);
    expect(() => parseDidKeyFile(JSON.stringify({ ...file, did: newDidKey().did }))).toThrow(/does not match/);
    expect(() => parseDidKeyFile('not json')).toThrow(ClientError);
  });
});

describe('node answers become advice', () => {
  const context = { action: 'kv get docs/x', node: 'http://n', space: { id: space, name: 'photos' }, invoker: 'did:key:zbob' };

  it('401 Unauthorized Action names the missing capability', () => {
    const e = failureFromResponse(401, `Unauthorized Action: ${space}/kv/docs/x / tinycloud.kv/get`, context);
    expect(e).toMatchObject({ kind: 'auth', code: 'UNAUTHORIZED_ACTION', missing: { resource: `${space}/kv/docs/x`, ability: 'tinycloud.kv/get' } });
    expect(e.message).toContain('did:key:zbob does not hold tinycloud.kv/get');
    expect(e.hint).toContain('--ability kv/get');
  });

  it('404 Space not found points at delegate host', () => {
    const e = failureFromResponse(404, 'Space not found', context);
    expect(e).toMatchObject({ kind: 'not-found', code: 'SPACE_NOT_FOUND' });
    expect(e.hint).toBe('The owner hosts it with: tinycloud delegate host --node http://n --space photos');
  });

  it('revocation, missing keys, server errors', () => {
    expect(failureFromResponse(401, 'delegation-revoked: bafkr4ixyz', context)).toMatchObject({ kind: 'auth', code: 'REVOKED' });
    expect(failureFromResponse(404, 'No Such Key: docs/x', context)).toMatchObject({ kind: 'not-found', code: 'KEY_NOT_FOUND' });
    expect(failureFromResponse(503, 'busy', context)).toMatchObject({ kind: 'server' });
    expect(failureFromResponse(400, 'bad', context)).toMatchObject({ kind: 'usage' });
    expect(failureFromResponse(402, 'Storage quota exceeded', context)).toMatchObject({ kind: 'failure', code: 'QUOTA_EXHAUSTED' });
  });
});
