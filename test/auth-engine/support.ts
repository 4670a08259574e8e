import { randomUUID } from 'node:crypto';
import {
  cacaoPayloadOfSiwe,
  didKeyVerificationMethod,
  encodeBase64UrlPadded,
  encodeCacao,
  encodeRecap,
  renderSiweMessage,
  signUcan,
  statementFor,
  type Attenuations,
  type Ed25519KeyPair,
  type SiweFields,
} from '../../src/core/auth/index.js';
import { didKeyFromEd25519 } from '../../src/core/auth/did.js';
import { cidOfBytes, cidToBase32, cidToBase58, parseCid, type CID } from '../../src/core/ids/cid.js';
import type { Principal } from '../auth/principals.js';
import type { TestNode } from '../support/test-node.js';

export { alice, bob, mallory, type Principal } from '../auth/principals.js';

/** A fixed clock for the whole suite: 2026-06-01T00:00:00Z, moved by tests that need time to pass. */
export const T0 = Date.UTC(2026, 5, 1) / 1000;

export class TestClock {
  now = T0;
  readonly read = (): number => this.now;
  advance(seconds: number): void {
    this.now += seconds;
  }
}

export const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

/** Default session abilities of the SDK (WIRE §2.11), trimmed to what the engine tests need. */
export function sessionAtt(space: string, extra: Attenuations = {}): Attenuations {
  return {
    [`${space}/kv`]: { 'tinycloud.kv/del': [{}], 'tinycloud.kv/get': [{}], 'tinycloud.kv/list': [{}], 'tinycloud.kv/put': [{}] },
    [`${space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] },
    [`${space}/delegation`]: { 'tinycloud.delegation/revoke': [{}], 'tinycloud.delegation/status': [{}] },
    [`${space}/space`]: { 'tinycloud.space/info': [{}] },
    ...extra,
  };
}

export interface SiweOptions {
  readonly att: Attenuations;
  readonly prf?: readonly string[];
  readonly audience?: string;
  readonly issuedAt?: string;
  readonly expirationTime?: string | null;
  readonly notBefore?: string;
  readonly statement?: string;
  readonly resources?: readonly string[];
  readonly address?: string;
  readonly nonce?: string;
}

/** SIWE fields of a wallet-signed delegation (session by default: audience = the owner's session key). */
export function siweFields(owner: Principal, o: SiweOptions): SiweFields {
  return {
    domain: 'app.example',
    address: o.address ?? owner.wallet.address,
    statement: o.statement ?? statementFor(o.att),
    uri: o.audience ?? owner.sessionVm,
    chainId: 1,
    nonce: o.nonce ?? `n${randomUUID().replaceAll('-', '')}`,
    issuedAt: o.issuedAt ?? iso(T0 - 60),
    ...(o.expirationTime !== null && { expirationTime: o.expirationTime ?? iso(T0 + 3600) }),
    ...(o.notBefore !== undefined && { notBefore: o.notBefore }),
    resources: o.resources ?? [encodeRecap({ att: o.att, prf: o.prf ?? [] })],
  };
}

/** A CACAO signed by `signer` (the owner, or mallory for forgeries) as a padded base64url header. */
export function cacaoHeader(fields: SiweFields, signer: Principal): string {
  const signature = signer.wallet.signMessageSync(renderSiweMessage(fields));
  return encodeBase64UrlPadded(encodeCacao(cacaoPayloadOfSiwe(fields), Buffer.from(signature.slice(2), 'hex')));
}

export async function cidOfHeader(header: string): Promise<CID> {
  const bytes = header.includes('.') ? Buffer.from(header, 'utf8') : Buffer.from(header, 'base64url');
  return cidOfBytes(bytes);
}

export const base58 = (cid: CID): string => cidToBase58(cid);
export const base32 = (cid: CID): string => cidToBase32(cid);

export interface UcanOptions {
  readonly att: Attenuations;
  readonly prf?: readonly (CID | string)[];
  readonly audience?: string;
  readonly exp?: number;
  readonly nbf?: number;
  readonly facts?: readonly Record<string, unknown>[];
}

/** A UCAN signed by an Ed25519 key (a session key, or any principal's `session`). */
export function ucan(key: Ed25519KeyPair, o: UcanOptions, now: number = T0): string {
  const did = didKeyFromEd25519(key.publicKey);
  return signUcan({
    issuerKey: key,
    audience: o.audience ?? did,
    att: o.att,
    prf: o.prf,
    exp: o.exp ?? now + 60,
    ...(o.nbf !== undefined && { nbf: o.nbf }),
    nonce: `urn:uuid:${randomUUID()}`,
    ...(o.facts !== undefined && { facts: o.facts }),
  });
}

export const vmOf = (key: Ed25519KeyPair): string => didKeyVerificationMethod(didKeyFromEd25519(key.publicKey));

export interface HttpAnswer {
  readonly status: number;
  readonly text: string;
  readonly headers: Headers;
  json<T = unknown>(): T;
}

export async function post(node: TestNode, path: string, authorization?: string, body?: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  const response = await fetch(`${node.url}${path}`, {
    method: 'POST',
    headers: { ...(authorization !== undefined && { Authorization: authorization }), ...headers },
    ...(body !== undefined && { body }),
  });
  const text = await response.text();
  return { status: response.status, text, headers: response.headers, json: <T>() => JSON.parse(text) as T };
}

export async function get(node: TestNode, path: string): Promise<HttpAnswer> {
  const response = await fetch(`${node.url}${path}`);
  const text = await response.text();
  return { status: response.status, text, headers: response.headers, json: <T>() => JSON.parse(text) as T };
}

export interface SignedIn {
  readonly space: string;
  readonly session: string;
  readonly sessionCid: CID;
}

/** The SDK sign-in of WIRE §2.11: session delegation, host flow when skipped, session again. */
export async function signIn(node: TestNode, owner: Principal, spaceName = 'default', att?: Attenuations): Promise<SignedIn> {
  const space = owner.space(spaceName);
  const session = cacaoHeader(siweFields(owner, { att: att ?? sessionAtt(space) }), owner);
  const first = await post(node, '/delegate', session);
  if (first.status !== 200) throw new Error(`session delegation: ${first.status} ${first.text}`);
  if (first.json<{ skipped: string[] }>().skipped.includes(space)) {
    await host(node, owner, space);
    const again = await post(node, '/delegate', session);
    if (again.status !== 200) throw new Error(`session again: ${again.status} ${again.text}`);
  }
  return { space, session, sessionCid: await cidOfHeader(session) };
}

/** The host delegation: owner's wallet → the node's per-space peer key, `tinycloud.space/host` on `<space>/space`. */
export async function host(node: TestNode, owner: Principal, space: string): Promise<void> {
  const peer = await get(node, `/peer/generate/${encodeURIComponent(space)}`);
  const att = { [`${space}/space`]: { 'tinycloud.space/host': [{}] } };
  const header = cacaoHeader(siweFields(owner, { att, audience: peer.text, expirationTime: null }), owner);
  const answer = await post(node, '/delegate', header);
  if (answer.status !== 200) throw new Error(`host delegation: ${answer.status} ${answer.text}`);
}

export const parse = (text: string): CID => {
  const cid = parseCid(text);
  if (!cid) throw new Error(`not a CID: ${text}`);
  return cid;
};
