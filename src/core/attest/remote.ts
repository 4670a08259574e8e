import { randomBytes } from 'node:crypto';
import type { NodeAttestation } from './node-attestation.js';

export interface RemoteAttestation {
  url: string;
  /** The DID the node's `/info` announces: the one the report data must bind. */
  nodeDid: string;
  inTEE: boolean;
  nonce: string;
  attestation: NodeAttestation;
}

/** 32 random bytes, base64url: fresh for every request so an old quote cannot be replayed. */
export const freshNonce = (): string => randomBytes(32).toString('base64url');

/** Ask a node who it is (`/info`), then for an attestation over a fresh nonce (`/attestation`). */
export async function fetchNodeAttestation(url: string, nonce = freshNonce(), timeoutMs = 60_000): Promise<RemoteAttestation> {
  const base = url.replace(/\/+$/, '');
  const info = (await getJson(`${base}/info`, timeoutMs)) as { nodeId?: unknown; inTEE?: unknown };
  if (typeof info.nodeId !== 'string') throw new Error(`${base}/info does not name the node (no nodeId)`);
  const attestation = (await getJson(`${base}/attestation?nonce=${encodeURIComponent(nonce)}`, timeoutMs)) as NodeAttestation;
  if (attestation?.mode !== 'dstack' && attestation?.mode !== 'classic') {
    throw new Error(`${base}/attestation answered an unknown mode`);
  }
  return { url: base, nodeDid: info.nodeId, inTEE: info.inTEE === true, nonce, attestation };
}

async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`GET ${url}: response is not JSON`);
  }
}
