import { bareFastify, ed25519VerificationsPerSecond } from './baselines.js';
import { startBenchNode } from './fixture.js';
import { encodeRequest, runLoad, type LoadResult } from './load.js';
import type { BenchRow, BenchSuite } from './run.js';

export interface AuthBenchOptions {
  /** Concurrent keep-alive connections. */
  readonly concurrency?: number;
  /** Requests per measurement (pre-generated tokens for the authorized run). */
  readonly requests?: number;
}

const WARM_UP = 2000;

/**
 * Pre-signed `tinycloud.space/info` invocations by a session key (depth-1 chain), each fully authorized
 * (signature, chain, revocation, space, replay insert) and answered with an empty 200.
 */
async function authorizedInvocations(count: number, concurrency: number): Promise<LoadResult> {
  const node = await startBenchNode((space) => ({ [`${space}/space`]: { 'tinycloud.space/info': [{}] } }));
  try {
    const att = { [`${node.space}/space`]: { 'tinycloud.space/info': [{}] } };
    const requests = Array.from({ length: WARM_UP + count }, () => encodeRequest('POST', '/invoke', { authorization: node.mint(att) }));
    const warm = await runLoad({ port: node.port, concurrency, requests: requests.slice(0, WARM_UP) });
    if (warm.failures > 0) throw new Error(`bench: authorized invocation answered ${warm.firstFailure}`);
    const result = await runLoad({ port: node.port, concurrency, requests: requests.slice(WARM_UP) });
    if (result.failures > 0) throw new Error(`bench: ${result.failures} authorized invocations failed: ${result.firstFailure}`);
    return result;
  } finally {
    await node.stop();
  }
}

/** Ed25519 ceiling, bare fastify, and authorized no-op invocations/s with their ratios to both. */
export async function benchAuth(options: AuthBenchOptions = {}): Promise<BenchRow[]> {
  const concurrency = options.concurrency ?? 32;
  const requests = options.requests ?? 20_000;
  const verifications = ed25519VerificationsPerSecond();
  const bare = await bareFastify(requests, concurrency);
  const authorized = await authorizedInvocations(requests, concurrency);
  const latency = `p50 ${authorized.p50Ms.toFixed(1)} ms, p99 ${authorized.p99Ms.toFixed(1)} ms`;
  return [
    { name: 'node:crypto Ed25519 verifications (one core)', value: verifications, unit: 'verify/s' },
    { name: 'bare fastify hello-world (POST, empty 200)', value: bare.perSecond, unit: 'req/s' },
    {
      name: `authorized no-op invocation (/invoke space/info, depth-1 chain; ${latency})`,
      value: authorized.perSecond,
      unit: 'req/s',
      ratio: authorized.perSecond / bare.perSecond,
      baseline: 'bare fastify',
    },
    {
      name: 'authorized no-op invocation vs Ed25519 ceiling',
      value: authorized.perSecond,
      unit: 'req/s',
      ratio: authorized.perSecond / verifications,
      baseline: 'Ed25519 verify/s',
    },
  ];
}

const suite: BenchSuite = () => benchAuth();
export default suite;
