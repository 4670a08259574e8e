/**
 * The published legacy client, `@tinycloudlabs/web-sdk@0.2.1` (WIRE §14), driven in Node against a real node:
 * its own code signs, builds every envelope (its bundled wasm) and makes every request; the test only plays the
 * wallet and the user, and asserts what the SDK hands back.
 *
 * How it is driven (as the capture runs in ../shared/vectors/legacy-client were): `new TinyCloudWeb({providers:
 * {web3: {driver}}, modules: {storage: {hosts: [node], prefix: 'default', autoCreateNewOrbit: false}},
 * notifications: {popups: false}})`, `signIn()`, then `storage.hostOrbit()` the first time (the space does not
 * exist: `/delegate` 404 → `/peer/generate` → host delegation → session again), then `storage.put/get/list/
 * delete`, `storage.orbit.head/sessions()`.
 * - `driver` is a minimal EIP-1193 provider over an ethers Wallet (`eth_accounts`, `eth_requestAccounts`,
 *   `eth_chainId`, `personal_sign`; anything else is refused with 4200). The SDK wraps it in its own ethers v5
 *   `Web3Provider`.
 * - `autoCreateNewOrbit: false` and an explicit `hostOrbit()`: with `true` the SDK answers the first 404 by
 *   mounting a DOM modal and waiting for a click on "Create Orbit", whose handler is that same `hostOrbit()`.
 * - `popups: false` keeps the toast UI (custom elements in `document`) unmounted.
 *
 * Browser globals the bundle touches, stubbed on globalThis (no DOM; jsdom is not used), and restored after:
 * - `HTMLElement` (an empty class) and `customElements.define` (a no-op): the bundle declares its toast and modal
 *   custom elements at load time (`class … extends HTMLElement`, `customElements.define(…)`); none is mounted.
 * - `location.hostname`: the SIWE domain (`globalThis.location.hostname`, `window.location.hostname`); the
 *   captures carry `localhost`.
 * - `window` = `self`: one EventTarget with that `location` and Node's `crypto`. The SDK dispatches its
 *   notification events on `window` (debounced timers); `self.crypto.getRandomValues` is its SIWE nonce source
 *   (the bundled `@stablelib/random` finds no Node crypto inside webpack); the wasm's `getrandom` reads
 *   `crypto` from the first global of `self`/`window`/`globalThis`.
 * fetch, Blob, TextEncoder, WebAssembly, atob/btoa are Node's own.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Wallet, getBytes, type BaseWallet } from 'ethers';
import type { TinyCloudWeb } from '@tinycloudlabs/web-sdk';
import { startTestNode, type TestNode } from '../support/test-node.js';

type SdkModule = typeof import('@tinycloudlabs/web-sdk');
type Session = Awaited<ReturnType<TinyCloudWeb['signIn']>>;
type SdkResponse = Awaited<ReturnType<TinyCloudWeb['storage']['get']>>;

// ---------------------------------------------------------------------------------------------------------------
// The smallest browser the bundle needs (see the header), installed before the SDK is loaded.

const SHIMMED = ['HTMLElement', 'customElements', 'location', 'window', 'self'] as const;
const saved = new Map<string, PropertyDescriptor | undefined>();

function installBrowserShims(): void {
  const g = globalThis as Record<string, unknown>;
  for (const name of SHIMMED) saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
  const location = { hostname: 'localhost', host: 'localhost', protocol: 'http:', origin: 'http://localhost' };
  const window = Object.assign(new EventTarget(), { location, crypto: globalThis.crypto });
  g.HTMLElement = class HTMLElement {};
  g.customElements = { define: () => undefined, get: () => undefined };
  g.location = location;
  g.window = window;
  g.self = window;
}

function restoreBrowserShims(): void {
  for (const name of SHIMMED) {
    const descriptor = saved.get(name);
    if (descriptor) Object.defineProperty(globalThis, name, descriptor);
    else delete (globalThis as Record<string, unknown>)[name];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The wallet: an EIP-1193 provider over an ethers Wallet, on mainnet (chain 1, as in the captures).

interface Eip1193Request {
  method: string;
  params?: unknown[];
}

class WalletProvider {
  readonly calls: string[] = [];
  constructor(readonly wallet: BaseWallet) {}

  async request({ method, params = [] }: Eip1193Request): Promise<unknown> {
    this.calls.push(method);
    switch (method) {
      case 'eth_accounts':
      case 'eth_requestAccounts':
        return [this.wallet.address];
      case 'eth_chainId':
        return '0x1';
      case 'personal_sign': {
        const [data, account] = params as [string, string];
        if (account.toLowerCase() !== this.wallet.address.toLowerCase()) {
          throw Object.assign(new Error(`personal_sign for ${account}, not this wallet`), { code: 4100 });
        }
        return this.wallet.signMessage(getBytes(data));
      }
      default:
        throw Object.assign(new Error(`The wallet does not support ${method}`), { code: 4200 });
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------

let sdk: SdkModule;
let node: TestNode;

function client(provider: WalletProvider, storage: Record<string, unknown> = {}): TinyCloudWeb {
  return new sdk.TinyCloudWeb({
    providers: { web3: { driver: provider } },
    modules: { storage: { hosts: [node.url], prefix: 'default', autoCreateNewOrbit: false, ...storage } },
    notifications: { popups: false },
  } as ConstructorParameters<SdkModule['TinyCloudWeb']>[0]);
}

/** First sign-in on a fresh node: the session alone is refused, so the app hosts the space, as the modal would. */
async function signInAndHost(tcw: TinyCloudWeb): Promise<Session> {
  const session = await tcw.signIn();
  expect(() => tcw.storage.orbit).toThrow('TinyCloudStorage is not connected');
  await tcw.storage.hostOrbit(session);
  return session;
}

const orbitOf = (address: string): string => `tinycloud:pkh:eip155:1:${address}://default`;
const sessionKeyDid = (session: Session): string => /^URI: (.+)$/m.exec(session.siwe)?.[1] as string;
const bytesOf = async (stream: ReadableStream<Uint8Array>): Promise<Buffer> => Buffer.from(await new Response(stream).arrayBuffer());
const ETAG = /^"blake3-[0-9a-f]{64}"$/;

beforeAll(async () => {
  installBrowserShims();
  sdk = createRequire(import.meta.url)('@tinycloudlabs/web-sdk') as SdkModule;
  node = await startTestNode();
});

afterAll(async () => {
  // The SDK's notification events are debounced timers that fire on `window`: drop them before `window` goes.
  sdk?.dispatchSDKEvent.cleanup();
  await node?.destroy();
  restoreBrowserShims();
});

describe('@tinycloudlabs/web-sdk@0.2.1 against a real node', () => {
  const alice = new WalletProvider(Wallet.createRandom());
  const bob = new WalletProvider(Wallet.createRandom());
  let tcw: TinyCloudWeb;
  let session: Session;

  const binary = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 151 + 7) % 256));
  const json = { name: 'Zoë', nested: { list: [1, 2.5, null, true], emoji: '🌍' }, empty: {} };
  const text = 'héllo wörld ✓';

  it('signs in with a wallet; the first time it hosts the space (404, /peer/generate, host delegation, session)', async () => {
    tcw = client(alice);
    session = await signInAndHost(tcw);
    expect(session.address).toBe(alice.wallet.address);
    expect(session.walletAddress).toBe(alice.wallet.address);
    expect(session.chainId).toBe(1);
    expect(session.siwe).toMatch(/^localhost wants you to sign in with your Ethereum account:\n/);
    expect(`tinycloud:${tcw.storage.orbitId}`).toBe(orbitOf(alice.wallet.address));
    // The SDK's own quirk: `orbit.id()` is `${session.namespace}:${orbitId}` and its sessions carry no namespace.
    expect(tcw.storage.orbit.id()).toBe(`undefined:${orbitOf(alice.wallet.address)}`);
    // Two signatures (session, host) and nothing beyond the EIP-1193 subset the adapter offers.
    expect(alice.calls.filter((m) => m === 'personal_sign')).toHaveLength(2);
    expect(new Set(alice.calls)).toEqual(new Set(['eth_accounts', 'eth_chainId', 'personal_sign']));
  });

  it('put then get: text, JSON and bytes come back identical', async () => {
    const puts = [
      await tcw.storage.put('hello', text),
      await tcw.storage.put('obj', json),
      await tcw.storage.put('bin', new Blob([binary], { type: 'application/octet-stream' })),
    ];
    for (const put of puts) {
      expect(put).toMatchObject({ ok: true, status: 200 });
      expect(put.headers.get('etag')).toMatch(ETAG);
    }

    const hello = await tcw.storage.get('hello');
    expect(hello).toMatchObject({ ok: true, status: 200, data: text });
    expect(hello.headers.get('content-type')).toBe('text/plain');
    expect(hello.headers.get('etag')).toBe(puts[0]?.headers.get('etag'));

    const obj = await tcw.storage.get('obj');
    expect(obj).toMatchObject({ ok: true, status: 200, data: json });
    expect(obj.headers.get('content-type')).toBe('application/json');
    const objStream = await tcw.storage.get('obj', { request: { streamBody: true } });
    expect((await bytesOf(objStream.data as ReadableStream<Uint8Array>)).toString('utf8')).toBe(JSON.stringify(json));

    const bin = await tcw.storage.get('bin');
    expect(bin.ok).toBe(true);
    expect(bin.headers.get('content-type')).toBe('application/octet-stream');
    expect(bin.data).toBeInstanceOf(Blob);
    expect(Buffer.from(await (bin.data as Blob).arrayBuffer()).equals(binary)).toBe(true);
  });

  it('list returns the keys under the prefix, sorted; removePrefix strips it', async () => {
    const listed = await tcw.storage.list();
    expect(listed).toMatchObject({ ok: true, status: 200, data: ['default/bin', 'default/hello', 'default/obj'] });
    const bare = await tcw.storage.list({ removePrefix: true });
    expect(bare.data).toEqual(['bin', 'hello', 'obj']);
  });

  it('head (metadata) gives the stored headers and ETag without a body; a missing key is 404', async () => {
    const head = await tcw.storage.orbit.head('default/hello');
    expect(head).toMatchObject({ ok: true, status: 200 });
    expect(head.headers.get('content-type')).toBe('text/plain');
    expect(head.headers.get('etag')).toBe((await tcw.storage.get('hello')).headers.get('etag'));
    expect(head).not.toHaveProperty('data');

    const missing = await tcw.storage.orbit.head('default/nope');
    expect(missing).toMatchObject({ ok: false, status: 404 });
    const missingGet = await tcw.storage.get('nope');
    expect(missingGet).toMatchObject({ ok: false, status: 404, data: undefined });
  });

  it('sessions() reads the capabilities in the shape the SDK declares: the session and the host delegation', async () => {
    const orbit = orbitOf(alice.wallet.address);
    const sessions = await tcw.storage.orbit.sessions();
    const records = Object.values(sessions);
    expect(Object.keys(sessions).every((cid) => cid.startsWith('bafkr4i'))).toBe(true);
    expect(records.every((r) => r.delegator === `did:pkh:eip155:1:${alice.wallet.address}`)).toBe(true);

    const mine = records.find((r) => r.delegate === sessionKeyDid(session));
    expect(mine?.parents).toEqual([]);
    expect(mine?.raw).toEqual(expect.any(String));
    const byAction = (caps: { resource: string; action: string }[]) =>
      [...caps].sort((a, b) => a.action.localeCompare(b.action));
    expect(byAction(mine?.capabilities ?? [])).toEqual([
      { resource: `${orbit}/capabilities/all`, action: 'capabilities/read' },
      ...['kv/del', 'kv/get', 'kv/list', 'kv/metadata', 'kv/put'].map((action) => ({ resource: `${orbit}/kv/default`, action })),
    ]);

    const host = records.find((r) => r.capabilities.some((c) => c.action === 'orbit/host'));
    expect(host?.capabilities).toEqual([{ resource: orbit, action: 'orbit/host' }]);
    expect(host?.delegate).toMatch(/^did:key:z6Mk/);
    expect(records).toHaveLength(2);
  });

  it('signing in again (the space exists now) connects at once, with a new session key', async () => {
    const again = client(alice);
    const second = await again.signIn();
    expect(again.storage.orbit.id()).toContain(orbitOf(alice.wallet.address));
    expect(sessionKeyDid(second)).not.toBe(sessionKeyDid(session));
    expect((await again.storage.get('obj')).data).toEqual(json);
  });

  it('a read-only sharing link made by alice opens the one key it names for anyone, and nothing else', async () => {
    const link = await tcw.storage.generateSharingLink('default/obj');
    const reader = client(new WalletProvider(Wallet.createRandom()));
    const shared = await reader.storage.retrieveSharingLink(link);
    expect(shared).toMatchObject({ ok: true, status: 200, data: json });

    const share = JSON.parse(atob(link)) as { path: string };
    const widened = btoa(JSON.stringify({ ...share, path: 'default/hello' }));
    expect(await reader.storage.retrieveSharingLink(widened)).toMatchObject({ ok: false, status: 401 });
  });

  it('bob signs in to his own space and cannot read, list, forge his way into or host alice\'s', async () => {
    const bobTcw = client(bob);
    const bobSession = await signInAndHost(bobTcw);
    expect(bobTcw.storage.orbit.id()).toContain(orbitOf(bob.wallet.address));
    expect(await bobTcw.storage.get('obj')).toMatchObject({ ok: false, status: 404 });
    expect((await bobTcw.storage.list()).data).toEqual([]);
    const bobSessions = Object.values(await bobTcw.storage.orbit.sessions());
    expect(bobSessions.every((r) => r.delegator === `did:pkh:eip155:1:${bob.wallet.address}`)).toBe(true);

    // His own, valid session aimed at alice's space (a forged share link): the node refuses each read.
    const own = await bobTcw.storage.generateTinyCloudSession(bobSession);
    const forged = { ...own, orbitId: orbitOf(alice.wallet.address) };
    for (const path of ['default/obj', 'default/hello']) {
      const link = btoa(JSON.stringify({ path, tinycloudHost: node.url, session: forged }));
      const answer = (await bobTcw.storage.retrieveSharingLink(link)) as SdkResponse;
      expect(answer).toMatchObject({ ok: false, status: 401 });
    }

    // Pointing his storage module at alice's space, he cannot host it (the wallet is not its owner).
    bobTcw.storage.orbitId = `pkh:eip155:1:${alice.wallet.address}://default`;
    await expect(bobTcw.storage.hostOrbit(bobSession)).rejects.toThrow('Failed to open new TinyCloud Orbit');

    // Alice's data is untouched.
    expect((await tcw.storage.list()).data).toEqual(['default/bin', 'default/hello', 'default/obj']);
  });

  it('delete removes the key: get is 404 and list no longer shows it; deleteAll empties the prefix', async () => {
    const deleted = await tcw.storage.delete('hello');
    expect(deleted).toMatchObject({ ok: true, status: 200 });
    expect(await tcw.storage.get('hello')).toMatchObject({ ok: false, status: 404 });
    expect((await tcw.storage.list()).data).toEqual(['default/bin', 'default/obj']);

    const all = await tcw.storage.deleteAll();
    expect(all.map((r) => r.status)).toEqual([200, 200]);
    expect((await tcw.storage.list()).data).toEqual([]);
  });

  it('with an empty storage prefix (a kv/ grant), the same calls work over the whole space', async () => {
    const whole = client(alice, { prefix: '' });
    await whole.signIn();
    expect((await whole.storage.put('top', 'level')).status).toBe(200);
    expect((await whole.storage.get('top')).data).toBe('level');
    expect((await whole.storage.list()).data).toEqual(['top']);
    expect((await whole.storage.delete('top')).status).toBe(200);
  });
});
