import { generateKeyPairSync, sign, verify } from 'node:crypto';
import Fastify from 'fastify';
import { encodeRequest, runLoad, type LoadResult } from './load.js';

/**
 * The ceilings every suite compares itself with, measured once per `npm run bench` (memoized), on this machine,
 * in this run.
 */

/** A UCAN signing input is about this long (`header.payload`, one capability, one proof). */
const SIGNED_BYTES = 600;

function verificationsPerSecond(): number {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const message = Buffer.alloc(SIGNED_BYTES, 0x61);
  const signature = sign(null, message, privateKey);
  const round = (count: number) => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i++) if (!verify(null, message, publicKey, signature)) throw new Error('bench: verify failed');
    return count / (Number(process.hrtime.bigint() - started) / 1e9);
  };
  round(2000);
  // The best of five rounds: other processes on a shared machine only ever slow a round down.
  return Math.max(...Array.from({ length: 5 }, () => round(4000)));
}

let ed25519: number | undefined;

/**
 * `node:crypto` Ed25519 verifications per second on one core (a pre-imported public key, as the node keeps
 * them): every authorized request pays one, so this is the ceiling of one node process.
 */
export function ed25519VerificationsPerSecond(): number {
  return (ed25519 ??= verificationsPerSecond());
}

let bare: Promise<LoadResult> | undefined;

/**
 * A bare fastify app answering `POST /invoke` with an empty 200, driven by the same load generator and
 * connection count as the suites: the ceiling of any route on this machine.
 */
export function bareFastify(requests = 20_000, concurrency = 32): Promise<LoadResult> {
  return (bare ??= (async () => {
    const app = Fastify({ logger: false });
    app.post('/invoke', async (_request, reply) => reply.code(200).send());
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const port = (app.server.address() as { port: number }).port;
      const request = encodeRequest('POST', '/invoke');
      await runLoad({ port, concurrency, requests: Array.from({ length: 2000 }, () => request) });
      return await runLoad({ port, concurrency, requests: Array.from({ length: requests }, () => request) });
    } finally {
      await app.close();
    }
  })());
}
