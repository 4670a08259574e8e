import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ed25519KeyFromSeed } from '../auth/ed25519.js';
import type { Attenuations } from '../auth/recap.js';
import type { SpaceId } from '../auth/resource.js';
import { parseCid, cidToBase32, type CID } from '../ids/cid.js';
import { attenuationsFor, resolveSpace } from './capabilities.js';
import { signOwnerDelegation } from './delegation.js';
import { ClientError } from './errors.js';
import { didKeySigner, newDidKey, writePrivateFile, type DidKeySigner, type OwnerKeySource, type OwnerSigner } from './keys.js';
import type { NodeClient } from './node-client.js';
import { nowSeconds } from './time.js';

/** The abilities an owner session holds over its space (the SDK's default KV set, plus revoke for `delegate revoke`). */
export const SESSION_ABILITIES = [
  'tinycloud.kv/put',
  'tinycloud.kv/get',
  'tinycloud.kv/del',
  'tinycloud.kv/list',
  'tinycloud.kv/metadata',
  'tinycloud.capabilities/read',
  'tinycloud.delegation/revoke',
] as const;

// Bumped whenever SESSION_ABILITIES change, so older cached sessions are not reused.
const SESSION_FORMAT = 1;

export const DEFAULT_SESSION_TTL_SECONDS = 3600;
/** A cached session is reused only while it has this long left: invocations live 60 s. */
const MIN_REMAINING_SECONDS = 120;

export function sessionAtt(space: string): Attenuations {
  const att = attenuationsFor(space, SESSION_ABILITIES.filter((a) => !a.startsWith('tinycloud.capabilities/')));
  return { ...att, [`${space}/capabilities/all`]: { 'tinycloud.capabilities/read': [{}] } };
}

/** A session key and the owner's CACAO delegating the space's abilities to it (WIRE §2.11). */
export interface Session {
  readonly spaceId: string;
  /** `did:pkh:eip155:<chain>:<address>`. */
  readonly owner: string;
  readonly key: DidKeySigner;
  /** The session CACAO, header-encoded. */
  readonly delegation: string;
  readonly cid: CID;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

export interface NewSessionRequest {
  readonly owner: OwnerSigner;
  readonly chainId: number;
  readonly space: SpaceId;
  readonly ttlSeconds?: number;
  readonly now?: number;
}

/** One wallet signature: the SIWE + ReCap CACAO from the owner to a fresh Ed25519 session key. */
export async function createSession(r: NewSessionRequest): Promise<Session> {
  const now = Math.floor(r.now ?? nowSeconds());
  const key = newDidKey();
  const expiresAt = now + (r.ttlSeconds ?? DEFAULT_SESSION_TTL_SECONDS);
  const signed = await signOwnerDelegation({
    owner: r.owner,
    chainId: r.chainId,
    audience: key.verificationMethod,
    att: sessionAtt(r.space.text),
    issuedAt: now,
    expiresAt,
  });
  return { spaceId: r.space.text, owner: r.space.did, key, delegation: signed.token, cid: signed.cid, expiresAt };
}

/** The host delegation (WIRE §2.11 step 4.2): owner → the node's peer key, `tinycloud.space/host` on `<space>/space`, no expiry. */
export async function signHostDelegation(owner: OwnerSigner, chainId: number, space: string, peerDid: string) {
  return signOwnerDelegation({
    owner,
    chainId,
    audience: peerDid,
    att: { [`${space}/space`]: { 'tinycloud.space/host': [{}] } },
    issuedAt: Math.floor(nowSeconds()),
  });
}

/** The user's config dir: `$TINYCLOUD_CONFIG_DIR`, else `$XDG_CONFIG_HOME/tinycloud`, else `~/.config/tinycloud`. */
export function clientConfigDir(env: Readonly<Record<string, string | undefined>>): string {
  if (env.TINYCLOUD_CONFIG_DIR) return path.resolve(env.TINYCLOUD_CONFIG_DIR);
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : path.join(env.HOME ?? os.homedir(), '.config');
  return path.join(base, 'tinycloud');
}

interface SessionFile {
  format: number;
  node: string;
  spaceId: string;
  owner: string;
  sessionKey: string;
  delegation: string;
  cid: string;
  expiresAt: number;
}

/** Sessions cached per (node, owner, space) until they expire, one 0600 file each under `<configDir>/sessions/`. */
export class SessionStore {
  constructor(readonly dir: string) {}

  #file(node: string, owner: string, spaceId: string): string {
    const id = createHash('sha256').update(`${node}\n${owner}\n${spaceId}`).digest('hex').slice(0, 32);
    return path.join(this.dir, 'sessions', `${id}.json`);
  }

  async load(node: string, owner: string, spaceId: string, now = nowSeconds()): Promise<Session | undefined> {
    const file = this.#file(node, owner, spaceId);
    let saved: SessionFile;
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as SessionFile;
    } catch {
      return undefined;
    }
    const cid = parseCid(saved.cid);
    const usable = saved.format === SESSION_FORMAT && saved.node === node && saved.owner === owner && saved.spaceId === spaceId;
    if (!usable || !cid || saved.expiresAt - now < MIN_REMAINING_SECONDS) {
      await rm(file, { force: true });
      return undefined;
    }
    const key = didKeySigner(ed25519KeyFromSeed(Buffer.from(saved.sessionKey, 'base64url')));
    return { spaceId, owner, key, delegation: saved.delegation, cid, expiresAt: saved.expiresAt };
  }

  async save(node: string, session: Session): Promise<void> {
    const saved: SessionFile = {
      format: SESSION_FORMAT,
      node,
      spaceId: session.spaceId,
      owner: session.owner,
      sessionKey: Buffer.from(session.key.keyPair.secretKey).toString('base64url'),
      delegation: session.delegation,
      cid: cidToBase32(session.cid),
      expiresAt: session.expiresAt,
    };
    await writePrivateFile(this.#file(node, session.owner, session.spaceId), `${JSON.stringify(saved)}\n`, true);
  }

  async remove(node: string, owner: string, spaceId: string): Promise<void> {
    await rm(this.#file(node, owner, spaceId), { force: true });
  }
}

export interface SignInRequest {
  readonly node: NodeClient;
  readonly owner: OwnerKeySource;
  readonly chainId: number;
  /** A space name of the owner's, or a full space id the owner owns. */
  readonly space: string;
  /** Where sessions are cached; none = sign a fresh session every time. */
  readonly store?: SessionStore;
  /** Run the host flow when the node does not host the space (`tinycloud delegate host`). */
  readonly createSpace?: boolean;
  readonly ttlSeconds?: number;
}

export interface SignedIn {
  readonly session: Session;
  readonly space: SpaceId;
  /** The session came from the cache (no wallet signature was needed). */
  readonly cached: boolean;
  /** The node did not host the space and this sign-in created it. */
  readonly created: boolean;
  /** The node's host key for the space, when the host flow ran. */
  readonly peerDid?: string;
}

/**
 * The SDK's sign-in (WIRE §2.11): reuse a cached session or sign a new one (one wallet signature), check
 * `/info`, register the session with `POST /delegate`; when the node skips the space, either run the host flow
 * (`/peer/generate`, the `tinycloud.space/host` CACAO, then the session again) or explain how to host it.
 */
export async function signIn(r: SignInRequest): Promise<SignedIn> {
  const owner = `did:pkh:eip155:${r.chainId}:${r.owner.address}`;
  const space = resolveSpace(r.space, owner);
  if (space.did !== owner) {
    throw new ClientError('usage', 'NOT_OWNER', `${space.text} belongs to ${space.did}, not to the owner key (${owner})`, {
      hint: 'Use --as KEYFILE --proof TOKEN to act on someone else\'s space.',
    });
  }
  const nodeKey = r.node.display;
  let session = await r.store?.load(nodeKey, owner, space.text);
  const cached = session !== undefined;
  let signer: OwnerSigner | undefined;
  const unlock = async () => (signer ??= await r.owner.unlock());
  if (!session) {
    await r.node.info();
    session = await createSession({ owner: await unlock(), chainId: r.chainId, space, ttlSeconds: r.ttlSeconds });
  }
  const context = { action: 'sign in', space: { id: space.text, name: space.name } };
  let answer = await r.node.delegate(session.delegation, context).catch((error: unknown) => {
    if (error instanceof ClientError && error.code === 'SPACE_NOT_FOUND') return undefined;
    throw error;
  });
  let created = false;
  let peerDid: string | undefined;
  if (!answer || answer.skipped.includes(space.text)) {
    if (!r.createSpace) {
      await r.store?.save(nodeKey, session);
      throw new ClientError('not-found', 'SPACE_NOT_FOUND', `Space ${space.text} is not hosted on ${nodeKey}`, {
        hint: `Host it first: tinycloud delegate host --node ${nodeKey}${space.name === 'default' ? '' : ` --space ${space.name}`}`,
      });
    }
    peerDid = await r.node.peerDid(space.text);
    const host = await signHostDelegation(await unlock(), r.chainId, space.text, peerDid);
    await r.node.delegate(host.token, { action: 'host space', space: { id: space.text, name: space.name } });
    answer = await r.node.delegate(session.delegation, context);
    created = true;
  }
  await r.store?.save(nodeKey, session);
  return { session, space, cached, created, ...(peerDid !== undefined && { peerDid }) };
}
