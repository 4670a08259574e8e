import { SiweMessage } from 'siwe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacaoPayloadOfSiwe, encodeBase64UrlPadded, encodeCacao, parseRfc3339 } from '../../src/core/auth/index.js';
import { BLAKE3_CODE } from '../../src/core/ids/cid.js';
import { siweFieldsOf } from '../support/siwe.js';
import { startTestNode, type TestNode } from '../support/test-node.js';
import { readVectorText } from '../support/vectors.js';
import { base32, cidOfHeader, post, TestClock } from './support.js';

interface GoldenCase {
  case: string;
  endpoint: string;
  operation: { space: string; path: string; action: string };
  siwe: string;
  signature: string;
  expected: { status: number; code: string };
  replayOf?: GoldenCase;
  digest?: { claimed: string; actual: string };
}

const golden = JSON.parse(readVectorText('protocol/golden-vectors.json')) as { valid: GoldenCase[]; invalid: GoldenCase[] };

/** The CACAO a vector's SIWE text and signature stand for, as an Authorization header. */
function cacaoOf(c: GoldenCase): string {
  const payload = cacaoPayloadOfSiwe(siweFieldsOf(new SiweMessage(c.siwe)));
  return encodeBase64UrlPadded(encodeCacao(payload, Buffer.from(c.signature.slice(2), 'hex')));
}

/**
 * Every case of golden-vectors.json over real HTTP, at its expected status. The vectors were written for the
 * reference's `tc-bench-v1` build, whose `POST /auth/verify` takes a SIWE sign-in as the bearer of one
 * operation; the same messages also go through `POST /delegate` as CACAOs.
 */
describe('golden vectors over HTTP', () => {
  const clock = new TestClock();
  let node: TestNode;
  beforeAll(async () => {
    clock.now = parseRfc3339('2025-06-01T00:00:00Z') as number;
    node = await startTestNode({ clock: clock.read, bench: true });
  });
  afterAll(async () => node?.destroy());

  const verify = (c: GoldenCase) =>
    post(node, '/auth/verify', undefined, JSON.stringify({ siwe: c.siwe, signature: c.signature, operation: c.operation }), { 'content-type': 'application/json' });

  it.each(golden.valid.map((c) => [c.case, c] as const))('%s: /auth/verify → 200, and /delegate stores it', async (_, c) => {
    expect(c.expected.status).toBe(200);
    const answer = await verify(c);
    expect(answer.status, answer.text).toBe(200);
    const header = cacaoOf(c);
    const delegated = await post(node, '/delegate', header);
    expect(delegated.status, delegated.text).toBe(200);
    // The signer owns the `bench` space: its proofs are not needed, and the space is not hosted here.
    expect(delegated.json()).toEqual({ cid: base32(await cidOfHeader(header)), activated: [], skipped: [c.operation.space] });
    expect(answer.json()).toMatchObject({ ok: true, cid: base32(await cidOfHeader(header)) });
  });

  it('expired → 401 on both routes', async () => {
    const c = golden.invalid.find((v) => v.case === 'expired')!;
    expect(c.expected.status).toBe(401);
    expect((await verify(c)).status).toBe(401);
    const delegated = await post(node, '/delegate', cacaoOf(c));
    expect(delegated.status).toBe(401);
    expect(delegated.text).toBe('Delegation expired or not yet valid');
  });

  it('wrong-ability → 403: the sign-in grants get, not put', async () => {
    const c = golden.invalid.find((v) => v.case === 'wrong-ability')!;
    expect(c.expected.status).toBe(403);
    const answer = await verify(c);
    expect(answer.status).toBe(403);
    expect(answer.text).toBe(`Unauthorized Action: ${c.operation.space}/kv/depth-1 / tinycloud.kv/put`);
  });

  it('replayed-nonce → 409: the same signed message is accepted once', async () => {
    const c = golden.invalid.find((v) => v.case === 'replayed-nonce')!;
    expect(c.expected.status).toBe(409);
    expect(c.siwe).toBe(c.replayOf!.siwe);
    expect([200, 409]).toContain((await verify(c.replayOf!)).status);
    const answer = await verify(c);
    expect(answer.status).toBe(409);
    // A delegation, unlike a sign-in, is idempotent: re-posting it is not a replay.
    expect((await post(node, '/delegate', cacaoOf(c))).status).toBe(200);
  });

  it('digest-mismatch: its sign-in is depth-8\'s (already used: 409); the mismatch is between two BLAKE3 multihashes of one block', async () => {
    const c = golden.invalid.find((v) => v.case === 'digest-mismatch')!;
    expect(c.endpoint).toBe('PUT /block/:multihash');
    expect(c.siwe).toBe(golden.valid.find((v) => v.case === 'depth-8')!.siwe);
    expect((await verify(c)).status).toBe(409);
    const { claimed, actual } = c.digest!;
    expect(claimed).not.toBe(actual);
    for (const mh of [claimed, actual]) {
      expect(Buffer.from(mh, 'hex')[0]).toBe(BLAKE3_CODE);
      expect(Buffer.from(mh, 'hex').length).toBe(34);
    }
  });

  it('/auth/verify is not mounted without the bench option', async () => {
    const plain = await startTestNode({ clock: clock.read });
    try {
      const c = golden.valid[0]!;
      const answer = await post(plain, '/auth/verify', undefined, JSON.stringify({ siwe: c.siwe, signature: c.signature, operation: c.operation }), { 'content-type': 'application/json' });
      expect(answer.status).toBe(404);
    } finally {
      await plain.destroy();
    }
  });
});
