import type { Ed25519KeyPair } from '../../src/core/auth/index.js';
import { didKeyFromEd25519 } from '../../src/core/auth/did.js';
import type { CID } from '../../src/core/ids/cid.js';
import { cacaoHeader, cidOfHeader, host, post, sessionAtt, siweFields, ucan, type HttpAnswer, type Principal } from '../auth-engine/support.js';

export { alice, bob, mallory, TestClock, type Principal } from '../auth-engine/support.js';

interface Target {
  url: string;
}

export interface SqlSession {
  readonly space: string;
  readonly sessionCid: CID;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/**
 * The SDK sign-in with SQL in the session: the owner hosts the space and gives its session key
 * `tinycloud.sql/*` on `<space>/sql`. `now` is the node's clock (a pinned one, or the wall clock).
 */
export async function sqlSession(node: Target, owner: Principal, now: number, spaceName = 'default'): Promise<SqlSession> {
  const space = owner.space(spaceName);
  await host(node as never, owner, space);
  const att = sessionAtt(space, { [`${space}/sql`]: { 'tinycloud.sql/*': [{}] } });
  const header = cacaoHeader(siweFields(owner, { att, issuedAt: iso(now - 60), expirationTime: iso(now + 3600) }), owner);
  const answer = await post(node as never, '/delegate', header);
  if (answer.status !== 200) throw new Error(`session delegation: ${answer.status} ${answer.text}`);
  return { space, sessionCid: await cidOfHeader(header) };
}

export const didOf = (key: Ed25519KeyPair): string => didKeyFromEd25519(key.publicKey);

/** A UCAN delegation of SQL abilities (each with its caveats) from `from`'s session key to `to`'s. */
export async function delegateSql(
  node: Target,
  from: Principal,
  to: Principal,
  resource: string,
  abilities: Record<string, unknown[]>,
  prf: CID,
  now: number,
): Promise<CID> {
  const token = ucan(from.session, { att: { [resource]: abilities as never }, prf: [prf], audience: didOf(to.session), exp: now + 3000 }, now);
  const answer = await post(node as never, '/delegate', token);
  if (answer.status !== 200) throw new Error(`delegation: ${answer.status} ${answer.text}`);
  return cidOfHeader(token);
}

export interface InvokeOptions {
  readonly prf?: CID[];
  readonly caveats?: unknown[];
  readonly facts?: Record<string, unknown>[];
  readonly now: number;
  /** More capabilities in the same invocation. */
  readonly extra?: Record<string, Record<string, unknown[]>>;
}

/** `POST /invoke` with one SQL capability signed by `who`'s session key and a JSON body. */
export function invokeSql(node: Target, who: Principal, resource: string, ability: string, body: unknown, o: InvokeOptions): Promise<HttpAnswer> {
  const att = { [resource]: { [ability]: o.caveats && o.caveats.length > 0 ? o.caveats : [{}] }, ...(o.extra ?? {}) };
  const token = ucan(who.session, { att: att as never, prf: o.prf ?? [], ...(o.facts && { facts: o.facts }) }, o.now);
  return post(node as never, '/invoke', token, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json' });
}

/** The raw response, for binary bodies (export). */
export async function invokeSqlRaw(node: Target, who: Principal, resource: string, ability: string, body: unknown, o: InvokeOptions): Promise<Response> {
  const token = ucan(who.session, { att: { [resource]: { [ability]: [{}] } } as never, prf: o.prf ?? [] }, o.now);
  return fetch(`${node.url}/invoke`, { method: 'POST', headers: { authorization: token, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}
