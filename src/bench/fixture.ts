import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Wallet } from 'ethers';
import { encodeBase64Url, encodeBase64UrlPadded } from '../core/auth/base64url.js';
import { cacaoPayloadOfSiwe, encodeCacao } from '../core/auth/cacao.js';
import { didKeyFromEd25519, didKeyVerificationMethod } from '../core/auth/did.js';
import { generateEd25519Key, type Ed25519KeyPair } from '../core/auth/ed25519.js';
import { encodeRecap, statementFor, type Attenuations } from '../core/auth/recap.js';
import { spaceIdFor } from '../core/auth/resource.js';
import { renderSiweMessage } from '../core/auth/siwe.js';
import { UCV_CURRENT } from '../core/auth/ucan.js';
import { loadConfig } from '../core/config/load.js';
import { initDataDir } from '../core/datadir.js';
import { cidOfBytes, type CID } from '../core/ids/cid.js';
import { unwrap } from '../core/result.js';
import { startDaemon, type RunningDaemon } from '../daemon/lifecycle.js';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A real node (SQLite, local blocks, temp dir) with one hosted space and a session key holding `sessionAtt`
 * through a depth-1 chain (wallet → session), as an SDK session would.
 */
export interface BenchNode {
  readonly daemon: RunningDaemon;
  readonly port: number;
  readonly space: string;
  /** A fresh invocation of `att` by the session key (unique nonce, so single use never refuses it). */
  mint(att: Attenuations): string;
  stop(): Promise<void>;
}

/** `config` flags beside the temp data dir (e.g. `storage.staging`). */
export async function startBenchNode(
  sessionAtt: (space: string) => Attenuations,
  flags: Readonly<Record<string, string | number>> = {},
): Promise<BenchNode> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tinycloud-bench-'));
  await initDataDir(dir);
  // Only the verify-thread count passes through from the environment, to compare (docs/performance.md).
  const threads = process.env.TINYCLOUD_INVOCATION_VERIFY_THREADS;
  const config = loadConfig({
    env: { TINYCLOUD_LOG_LEVEL: 'silent', ...(threads !== undefined && { TINYCLOUD_INVOCATION_VERIFY_THREADS: threads }) },
    flags: { 'storage.datadir': dir, port: 0, address: '127.0.0.1', ...flags },
  });
  const daemon = await startDaemon(config, { logger: false });
  const stop = async () => {
    await daemon.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { space, session, sessionDid, sessionCid } = await delegateSession(daemon.url, (space) => daemon.node.keys.hostKey(space).did, sessionAtt);
    return { daemon, port: Number(new URL(daemon.url).port), space, mint: minter(session, sessionDid, sessionCid.toString()), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A session key of a fresh wallet's `bench` space, and the delegations that made it. */
export interface BenchSession {
  readonly space: string;
  readonly session: Ed25519KeyPair;
  readonly sessionDid: string;
  /** The CID of the wallet → session delegation, the session's proof. */
  readonly sessionCid: CID;
}

/**
 * A fresh wallet hosts its `bench` space on the node at `nodeUrl` (a CACAO to `hostDid(space)`), then grants
 * `sessionAtt(space)` to a fresh session key for an hour, both through `/delegate`.
 */
export async function delegateSession(
  nodeUrl: string,
  hostDid: (space: string) => string | Promise<string>,
  sessionAtt: (space: string) => Attenuations,
): Promise<BenchSession> {
  const wallet = Wallet.createRandom();
  const session = generateEd25519Key();
  const sessionDid = didKeyFromEd25519(session.publicKey);
  const space = unwrap(spaceIdFor(`did:pkh:eip155:1:${wallet.address}`, 'bench')).text;
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
    const response = await fetch(`${nodeUrl}/delegate`, { method: 'POST', headers: { authorization: encodeBase64UrlPadded(bytes) } });
    if (response.status !== 200) throw new Error(`bench setup: /delegate answered ${response.status} ${await response.text()}`);
  };
  await delegate(cacao({ [`${space}/space`]: { 'tinycloud.space/host': [{}] } }, await hostDid(space), false));
  const sessionBytes = cacao(sessionAtt(space), didKeyVerificationMethod(sessionDid), true);
  await delegate(sessionBytes);
  return { space, session, sessionDid, sessionCid: await cidOfBytes(sessionBytes) };
}

/** Signs protocol-1 UCANs with one imported key (importing per token would dominate pre-generation). */
function minter(session: Ed25519KeyPair, sessionDid: string, sessionCid: string): (att: Attenuations) => string {
  const key: KeyObject = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, session.secretKey]), format: 'der', type: 'pkcs8' });
  const issuer = didKeyVerificationMethod(sessionDid);
  const encode = (v: unknown) => encodeBase64Url(Buffer.from(JSON.stringify(v), 'utf8'));
  const header = encode({ alg: 'EdDSA', typ: 'JWT', ucv: UCV_CURRENT });
  return (att) => {
    // Well inside the default 300 s lifetime cap, long enough for a slow run.
    const payload = { iss: issuer, aud: sessionDid, exp: Date.now() / 1000 + 240, nnc: `urn:uuid:${randomUUID()}`, prf: [sessionCid], att };
    const signingInput = `${header}.${encode(payload)}`;
    return `${signingInput}.${encodeBase64Url(sign(null, Buffer.from(signingInput, 'ascii'), key))}`;
  };
}
