import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Wallet } from 'ethers';
import Fastify from 'fastify';
import { cacaoPayloadOfSiwe, encodeCacao } from '../core/auth/cacao.js';
import { encodeBase64UrlPadded } from '../core/auth/base64url.js';
import { didKeyFromEd25519, didKeyVerificationMethod } from '../core/auth/did.js';
import { generateEd25519Key } from '../core/auth/ed25519.js';
import { encodeRecap, statementFor, type Attenuations } from '../core/auth/recap.js';
import { spaceIdFor } from '../core/auth/resource.js';
import { renderSiweMessage } from '../core/auth/siwe.js';
import { signUcan } from '../core/auth/ucan.js';
import { loadConfig } from '../core/config/load.js';
import { initDataDir } from '../core/datadir.js';
import { cidOfBytes } from '../core/ids/cid.js';
import { unwrap } from '../core/result.js';
import { startDaemon } from '../daemon/lifecycle.js';
import type { BenchRow, BenchSuite } from './run.js';

export interface AuthBenchOptions {
  /** Concurrent keep-alive connections. */
  readonly concurrency?: number;
  /** Requests per measurement (pre-generated tokens for the authorized run). */
  readonly requests?: number;
}

interface Target {
  readonly port: number;
  readonly path: string;
  /** The Authorization value of request `i`. */
  readonly header: (i: number) => string | undefined;
}

/** POSTs `count` requests over `concurrency` keep-alive connections; returns completed requests per second. */
async function drive(target: Target, count: number, concurrency: number): Promise<{ perSecond: number; failures: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  let failures = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const authorization = target.header(i);
      const req = request(
        { host: '127.0.0.1', port: target.port, path: target.path, method: 'POST', agent, headers: authorization ? { authorization } : {} },
        (res) => {
          if (res.statusCode !== 200) failures++;
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end();
    });
  const worker = async () => {
    while (next < count) await one(next++);
  };
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { perSecond: count / seconds, failures };
}

/** A bare fastify app answering an empty 200, the ceiling any route of ours can reach on this machine. */
async function bareFastify(count: number, concurrency: number): Promise<number> {
  const app = Fastify({ logger: false });
  app.post('/invoke', async (_request, reply) => reply.code(200).send());
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const port = (app.server.address() as { port: number }).port;
    await drive({ port, path: '/invoke', header: () => undefined }, Math.min(count, 2000), concurrency); // warm-up
    return (await drive({ port, path: '/invoke', header: () => undefined }, count, concurrency)).perSecond;
  } finally {
    await app.close();
  }
}

/**
 * A real node (SQLite, temp dir): a wallet hosts a space and delegates to a session key, which then sends
 * pre-signed `tinycloud.space/info` invocations, each fully authorized (signature, chain, revocation, replay
 * insert) and answered with an empty 200.
 */
async function authorizedInvocations(count: number, concurrency: number): Promise<{ perSecond: number; failures: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tinycloud-bench-'));
  await initDataDir(dir);
  const config = loadConfig({ env: { TINYCLOUD_LOG_LEVEL: 'silent' }, flags: { 'storage.datadir': dir, port: 0, address: '127.0.0.1' } });
  const daemon = await startDaemon(config, { logger: false });
  try {
    const port = Number(new URL(daemon.url).port);
    const wallet = Wallet.createRandom();
    const session = generateEd25519Key();
    const sessionDid = didKeyFromEd25519(session.publicKey);
    const space = unwrap(spaceIdFor(`did:pkh:eip155:1:${wallet.address}`, 'bench')).text;
    const now = Date.now() / 1000;
    const cacao = (att: Attenuations, audience: string, expires: boolean) => {
      const fields = {
        domain: 'bench.example',
        address: wallet.address,
        statement: statementFor(att),
        uri: audience,
        chainId: 1,
        nonce: randomUUID().replaceAll('-', ''),
        issuedAt: new Date().toISOString(),
        ...(expires && { expirationTime: new Date(Date.now() + 3_600_000).toISOString() }),
        resources: [encodeRecap({ att, prf: [] })],
      };
      const signature = wallet.signMessageSync(renderSiweMessage(fields));
      return encodeCacao(cacaoPayloadOfSiwe(fields), Buffer.from(signature.slice(2), 'hex'));
    };
    const delegate = async (bytes: Uint8Array) => {
      const response = await fetch(`${daemon.url}/delegate`, { method: 'POST', headers: { authorization: encodeBase64UrlPadded(bytes) } });
      if (response.status !== 200) throw new Error(`bench setup: /delegate answered ${response.status} ${await response.text()}`);
    };
    await delegate(cacao({ [`${space}/space`]: { 'tinycloud.space/host': [{}] } }, daemon.node.keys.hostKey(space).did, false));
    const sessionBytes = cacao({ [`${space}/space`]: { 'tinycloud.space/info': [{}] } }, didKeyVerificationMethod(sessionDid), true);
    await delegate(sessionBytes);
    const sessionCid = await cidOfBytes(sessionBytes);
    const att = { [`${space}/space`]: { 'tinycloud.space/info': [{}] } };
    const total = count + Math.min(count, 2000);
    const tokens = Array.from({ length: total }, () =>
      signUcan({ issuerKey: session, audience: sessionDid, att, prf: [sessionCid], exp: now + 290, nonce: `urn:uuid:${randomUUID()}` }),
    );
    const warm = Math.min(count, 2000);
    await drive({ port, path: '/invoke', header: (i) => tokens[i] }, warm, concurrency);
    return await drive({ port, path: '/invoke', header: (i) => tokens[warm + i] }, count, concurrency);
  } finally {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Authorized no-op invocations per second, beside bare fastify measured in the same run. */
export async function benchAuth(options: AuthBenchOptions = {}): Promise<BenchRow[]> {
  const concurrency = options.concurrency ?? 32;
  const requests = options.requests ?? 5_000;
  const bare = await bareFastify(requests, concurrency);
  const authorized = await authorizedInvocations(requests, concurrency);
  if (authorized.failures > 0) throw new Error(`bench: ${authorized.failures} authorized invocations failed`);
  return [
    { name: 'bare fastify hello-world (POST, empty 200)', value: bare, unit: 'req/s' },
    {
      name: 'authorized no-op invocation (/invoke space/info, depth-1 chain)',
      value: authorized.perSecond,
      unit: 'req/s',
      ratio: authorized.perSecond / bare,
      baseline: 'bare fastify',
    },
  ];
}

const suite: BenchSuite = () => benchAuth();
export default suite;
