import { describe, expect, it } from 'vitest';
import {
  decodeAuthorization,
  didKeyFromEd25519,
  parseRfc3339,
  verifyEnvelope,
  type SignedEnvelope,
} from '../../src/core/auth/index.js';
import { readVectorText } from '../support/vectors.js';

interface Capture {
  file: string;
  seq: number;
  t: string;
  url: string;
  authorization: string;
}

function capturesOf(file: string): Capture[] {
  return readVectorText('legacy-client', file)
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { seq: number; t: string; url: string; rawHeaders: string[] })
    .flatMap((r) => {
      const i = r.rawHeaders.findIndex((h, n) => n % 2 === 0 && h.toLowerCase() === 'authorization');
      return i < 0 ? [] : [{ file, seq: r.seq, t: r.t, url: r.url, authorization: r.rawHeaders[i + 1] as string }];
    });
}

const FILES = ['web-plain.jsonl', 'web-hostflow.jsonl', 'wasm-hostflow.jsonl'];
const captures = FILES.flatMap(capturesOf);
const named = captures.map((c) => [`${c.file} #${c.seq} ${c.url}`, c] as const);

async function legacyEnvelope(c: Capture): Promise<SignedEnvelope> {
  const env = await decodeAuthorization(c.authorization, { legacy: true });
  if (!env.ok) throw env.error;
  return env.value;
}

/** The clock pinned to the moment of capture (the invocations expired 60 s later). */
const capturedAt = (c: Capture) => parseRfc3339(c.t) as number;

describe('legacy 0.2.1 captures (WIRE §14)', () => {
  it('holds both CACAO and UCAN envelopes', () => {
    expect(captures.filter((c) => !c.authorization.includes('.')).length).toBe(7);
    expect(captures.filter((c) => c.authorization.includes('.')).length).toBe(17);
  });

  it.each(named)('%s decodes and verifies with the legacy option at capture time', async (_, c) => {
    const env = await legacyEnvelope(c);
    expect(env.dialect).toBe('legacy');
    const verified = verifyEnvelope(env, capturedAt(c));
    expect(verified.ok || verified.error.message).toBe(true);
  });

  it.each(named)('%s is refused on the strict protocol-1 path', async (_, c) => {
    const env = await decodeAuthorization(c.authorization);
    expect(env.ok || env.error.code).toBe('AUTH_MALFORMED');
  });

  it.each(named.filter(([, c]) => c.url === '/invoke'))('%s has expired a minute after capture', async (_, c) => {
    const env = await legacyEnvelope(c);
    const later = verifyEnvelope(env, capturedAt(c) + 61);
    expect(later.ok || later.error.code).toBe('AUTH_EXPIRED');
  });

  it.each(named)('%s maps to protocol-1 resources and abilities only', async (_, c) => {
    const env = await legacyEnvelope(c);
    for (const cap of env.info.capabilities) {
      expect(cap.target.kind).toBe('tinycloud');
      expect(cap.resource).not.toContain('://');
      expect(cap.ability).toMatch(/^tinycloud\.[a-z]+\/[a-z]+$/);
      expect(cap.caveats).toEqual([]);
    }
  });
});

describe('legacy session delegation matches its recorded session', () => {
  for (const name of ['web-plain', 'web-hostflow']) {
    const session = JSON.parse(readVectorText('legacy-client', `${name}-session.json`)) as {
      address: string;
      sessionKey: string;
      siwe: string;
      signature: string;
    };
    const jwk = JSON.parse(session.sessionKey) as { x: string };
    const sessionDid = didKeyFromEd25519(Buffer.from(jwk.x, 'base64url'));
    const first = capturesOf(`${name}.jsonl`)[0] as Capture;

    it(`${name}: renders the exact SIWE text the wallet signed, with the recorded signature`, async () => {
      const env = await legacyEnvelope(first);
      if (env.kind !== 'cacao') throw new Error('expected a CACAO');
      expect(env.siweMessage).toBe(session.siwe);
      expect(`0x${Buffer.from(env.signature).toString('hex')}`).toBe(session.signature);
    });

    it(`${name}: the session delegation goes from the wallet to the session key`, async () => {
      const env = await legacyEnvelope(first);
      expect(env.info.delegator).toBe(`did:pkh:eip155:1:${session.address}`);
      expect(env.info.delegatee).toBe(sessionDid);
      const space = `tinycloud:pkh:eip155:1:${session.address}:default`;
      expect(env.info.capabilities.map((c) => `${c.ability} ${c.resource}`)).toEqual([
        `tinycloud.capabilities/read ${space}/capabilities/all`,
        ...['del', 'get', 'list', 'metadata', 'put'].map((a) => `tinycloud.kv/${a} ${space}/kv/default`),
      ]);
      expect(env.info.expiry).toBeUndefined();
    });

    it(`${name}: every invocation is signed by the session key and cites the session delegation`, async () => {
      const delegation = await legacyEnvelope(first);
      const invocations = await Promise.all(
        capturesOf(`${name}.jsonl`).filter((c) => c.url === '/invoke').map(legacyEnvelope),
      );
      expect(invocations.length).toBeGreaterThan(0);
      for (const inv of invocations) {
        expect(inv.info.delegator).toBe(sessionDid);
        expect(inv.info.parents.map((p) => Buffer.from(p).toString('hex'))).toEqual([
          Buffer.from(delegation.multihash).toString('hex'),
        ]);
      }
    });
  }
});

describe('legacy host delegation', () => {
  const hosts = captures.filter((c) => c.url === '/delegate' && c.authorization.length < 1200);

  it.each(hosts.map((c) => [`${c.file} #${c.seq}`, c] as const))(
    '%s: orbit/host on the space becomes tinycloud.space/host on <space>/space',
    async (_, c) => {
      const env = await legacyEnvelope(c);
      expect(env.info.capabilities).toHaveLength(1);
      const [cap] = env.info.capabilities;
      expect(cap?.ability).toBe('tinycloud.space/host');
      expect(cap?.resource).toMatch(/^tinycloud:pkh:eip155:1:0x[0-9a-fA-F]{40}:default\/space$/);
      expect(cap?.target.kind === 'tinycloud' && cap.target.space.did).toBe(env.info.delegator);
    },
  );
});

describe('legacy wasm client', () => {
  it('its doubled did:key (`did:key:XX`) is read as the verification method did:key:X#X', async () => {
    const wasm = capturesOf('wasm-hostflow.jsonl');
    const session = await legacyEnvelope(wasm[0] as Capture);
    const invocation = await legacyEnvelope(wasm.find((c) => c.url === '/invoke') as Capture);
    expect(session.info.delegatee).toMatch(/^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]+$/);
    expect(session.info.delegatee.length).toBeLessThan(60);
    expect(invocation.info.delegator).toBe(session.info.delegatee);
    expect(invocation.info.issuer).toBe(`${session.info.delegatee}#${session.info.delegatee.slice(8)}`);
  });
});
