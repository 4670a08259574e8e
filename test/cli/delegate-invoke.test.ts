import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { encryptKeystoreJson, Wallet } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinycloud } from '../support/cli.js';
import { startTestNode, tempDir, type TestNode } from '../support/test-node.js';

// End to end: the built CLI (execa) against a real node over HTTP. alice owns a space through an ethers wallet
// in TINYCLOUD_ETH_KEY; bob and carol are did:keys made with `delegate keygen`.

let node: TestNode;
let dir: string;
const alice = Wallet.createRandom();

const env = (extra: Record<string, string> = {}) => ({
  TINYCLOUD_CONFIG_DIR: path.join(dir, 'config'),
  TINYCLOUD_ETH_KEY: alice.privateKey,
  ...extra,
});

/** Run the CLI as alice (unless `extra` says otherwise) against the test node. */
const cli = (args: string[], options: { env?: Record<string, string>; input?: Buffer | string } = {}) =>
  tinycloud(args, { env: env(options.env), ...(options.input !== undefined && { input: options.input }) });
const cliBytes = (args: string[]) => tinycloud(args, { env: env(), encoding: 'buffer' });

/** Output as text, whether execa gave a string or (encoding: 'buffer') a Uint8Array. */
const text = (output: unknown): string => (output instanceof Uint8Array ? Buffer.from(output).toString('utf8') : String(output));
const bytes = (output: unknown): Buffer => Buffer.from(output as Uint8Array);
/** Human error output with oclif's wrapping (` ›   ` prefixes, line breaks) and all spacing removed. */
const squash = (output: unknown): string => text(output).replace(/[\s›]+/g, '');
const json = <T = Record<string, unknown>>(stdout: unknown): T => JSON.parse(text(stdout)) as T;
const at = (p: string) => path.join(dir, p);

beforeAll(async () => {
  dir = tempDir('tinycloud-cli-');
  node = await startTestNode({ env: { TINYCLOUD_STORAGE_STAGING: 'FileSystem' } });
});

afterAll(async () => {
  await node?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe('delegate keygen', () => {
  it('writes an Ed25519 did:key file with mode 0600 and prints the DID', async () => {
    const r = await cli(['delegate', 'keygen', '-o', at('bob.key'), '--json']);
    expect(r.exitCode).toBe(0);
    const out = json<{ did: string; file: string }>(r.stdout);
    expect(out.did).toMatch(/^did:key:z6Mk/);
    expect(out.file).toBe(at('bob.key'));
    expect(statSync(at('bob.key')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(at('bob.key'), 'utf8'))).toMatchObject({ did: out.did, kty: 'OKP', crv: 'Ed25519' });

    const plain = await cli(['delegate', 'keygen', '-o', at('carol.key')]);
    expect(plain.exitCode).toBe(0);
    expect(text(plain.stdout).trim()).toMatch(/^did:key:z6Mk\w+$/);

    const again = await cli(['delegate', 'keygen', '-o', at('bob.key')]);
    expect(again.exitCode).toBe(2);
    expect(squash(again.stderr)).toContain('alreadyexists');
  });
});

describe('alice and her space', () => {
  const photo = randomBytes(300 * 1024);

  it('is told to host her space before using it', async () => {
    const r = await cli(['invoke', 'kv', 'list', '--node', node.url]);
    expect(r.exitCode).toBe(4);
    expect(squash(r.stderr)).toContain('tinyclouddelegatehost');
    const j = await cli(['invoke', 'kv', 'list', '--node', node.url, '--json']);
    expect(j.exitCode).toBe(4);
    expect(json<{ error: { code: string; hint: string } }>(j.stdout).error).toMatchObject({ code: 'SPACE_NOT_FOUND' });
  });

  it('hosts her space (once)', async () => {
    const first = await cli(['delegate', 'host', '--node', node.url, '--json']);
    expect(first.exitCode, text(first.stderr)).toBe(0);
    const hosted = json<{ spaceId: string; created: boolean; hostDid: string; owner: string }>(first.stdout);
    expect(hosted).toMatchObject({ spaceId: `tinycloud:pkh:eip155:1:${alice.address}:default`, created: true, owner: `did:pkh:eip155:1:${alice.address}` });
    expect(hosted.hostDid).toMatch(/^did:key:z6Mk/);
    const second = await cli(['delegate', 'host', '--node', node.url, '--json']);
    expect(json(second.stdout)).toMatchObject({ created: false, hostDid: hosted.hostDid });
  });

  it('caches her session in a 0600 file under the config dir', async () => {
    const sessions = path.join(dir, 'config', 'sessions');
    const files = await readdir(sessions);
    expect(files.length).toBe(1);
    expect(statSync(path.join(sessions, files[0]!)).mode & 0o777).toBe(0o600);
  });

  it('puts photos/a.jpg from a file and reads it back byte-identical through a pipe', async () => {
    writeFileSync(at('a.jpg'), photo);
    const put = await cli(['invoke', 'kv', 'put', 'photos/a.jpg', at('a.jpg'), '--node', node.url, '--json']);
    expect(put.exitCode, text(put.stderr)).toBe(0);
    const stored = json<{ key: string; size: number; etag: string; contentType: string; version: string }>(put.stdout);
    expect(stored).toMatchObject({ key: 'photos/a.jpg', size: photo.length, contentType: 'image/jpeg' });
    expect(stored.etag).toMatch(/^"blake3-[0-9a-f]{64}"$/);

    const get = await cliBytes(['invoke', 'kv', 'get', 'photos/a.jpg', '--node', node.url]);
    expect(get.exitCode).toBe(0);
    expect(Buffer.compare(bytes(get.stdout), photo)).toBe(0);

    const toFile = await cli(['invoke', 'kv', 'get', 'photos/a.jpg', at('a.copy'), '--node', node.url, '--json']);
    expect(json(toFile.stdout)).toMatchObject({ key: 'photos/a.jpg', size: photo.length, etag: stored.etag, verified: true });
    expect(Buffer.compare(readFileSync(at('a.copy')), photo)).toBe(0);
  });

  it('puts from stdin', async () => {
    const r = await cli(['invoke', 'kv', 'put', 'docs/x', '-', '--node', node.url, '--json'], { input: 'secret plans' });
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(json(r.stdout)).toMatchObject({ key: 'docs/x', size: 12 });
    const back = await cli(['invoke', 'kv', 'get', 'docs/x', '--node', node.url]);
    expect(back.stdout).toBe('secret plans');
  });

  it('lists, shows metadata and history', async () => {
    const plain = await cli(['invoke', 'kv', 'list', '--node', node.url]);
    expect(plain.exitCode).toBe(0);
    expect(text(plain.stdout).split('\n').filter(Boolean)).toEqual(['docs/x', 'photos/a.jpg']);
    const prefixed = await cli(['invoke', 'kv', 'list', 'photos/', '--node', node.url, '--json']);
    expect(json(prefixed.stdout)).toMatchObject({ prefix: 'photos/', keys: ['photos/a.jpg'], count: 1 });

    const head = await cli(['invoke', 'kv', 'head', 'photos/a.jpg', '--node', node.url, '--json']);
    expect(head.exitCode).toBe(0);
    expect(json(head.stdout)).toMatchObject({ key: 'photos/a.jpg', size: photo.length, contentType: 'image/jpeg' });
    // A head answer has no body (Content-Length 0): the size shown is the stored one.
    const piped = await cli(['invoke', 'kv', 'head', 'photos/a.jpg', '--node', node.url]);
    expect(text(piped.stdout).split('\n')).toContain(`size\t${photo.length}`);

    const versions = await cli(['invoke', 'kv', 'versions', 'photos/a.jpg', '--node', node.url, '--json']);
    expect(versions.exitCode).toBe(0);
    const history = json<{ versions: { size: number; deleted: boolean }[] }>(versions.stdout).versions;
    expect(history).toHaveLength(1);
    expect(history[0]).toMatchObject({ size: photo.length, deleted: false });
  });

  it('deletes', async () => {
    await cli(['invoke', 'kv', 'put', 'tmp/gone', '-', '--node', node.url], { input: 'bye' });
    const del = await cli(['invoke', 'kv', 'del', 'tmp/gone', '--node', node.url, '--json']);
    expect(del.exitCode).toBe(0);
    expect(json(del.stdout)).toMatchObject({ key: 'tmp/gone', deleted: true });
    const get = await cli(['invoke', 'kv', 'get', 'tmp/gone', '--node', node.url]);
    expect(get.exitCode).toBe(4);
    const list = await cli(['invoke', 'kv', 'list', 'tmp/', '--node', node.url, '--json']);
    expect(json(list.stdout)).toMatchObject({ keys: [] });
    const never = await cli(['invoke', 'kv', 'del', 'never/written', '--node', node.url]);
    expect(never.exitCode).toBe(4);
  });

  it('reports usage errors with exit 2', async () => {
    expect((await cli(['invoke', 'kv', 'get', 'photos/a.jpg', '--node', 'ftp://x'])).exitCode).toBe(2);
    expect((await cli(['invoke', 'kv', 'get', 'photos/a.jpg', '--node', node.url], { env: { TINYCLOUD_ETH_KEY: 'nope' } })).exitCode).toBe(2);
    expect((await cli(['delegate', '--to', 'bob', '--ability', 'kv/get'])).exitCode).toBe(2);
    expect((await cli(['invoke', 'kv', 'get', 'x', '--node', node.url, '--proof', 'bafkr4i'])).exitCode).toBe(2);
  });

  it('exits 5 when the node cannot be reached', async () => {
    const r = await cli(['delegate', 'host', '--node', 'http://127.0.0.1:9', '--json'], { env: { TINYCLOUD_CONFIG_DIR: at('other-config') } });
    expect(r.exitCode).toBe(5);
    expect(json<{ error: { code: string } }>(r.stdout).error.code).toBe('NETWORK');
  });
});

describe('bob, with a delegation from alice', () => {
  let bob: string;
  let token: string;
  let cid: string;

  beforeAll(() => {
    bob = (JSON.parse(readFileSync(at('bob.key'), 'utf8')) as { did: string }).did;
  });

  const asBob = (args: string[], proof = token) =>
    tinycloud([...args, '--node', node.url, '--as', at('bob.key'), '--proof', proof], {
      env: { TINYCLOUD_CONFIG_DIR: path.join(dir, 'bob-config') },
      encoding: 'buffer',
    });

  it('alice delegates kv/get on photos/ to bob for 1 hour', async () => {
    const r = await cli(['delegate', '--to', bob, '--ability', 'kv/get', '--path', 'photos/', '--expires', '1h', '--json']);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    const d = json<{ token: string; cid: string; issuer: string; audience: string; capabilities: unknown[]; expiresAt: string; kind: string; registered: boolean }>(r.stdout);
    expect(d).toMatchObject({
      issuer: `did:pkh:eip155:1:${alice.address}`,
      audience: bob,
      capabilities: [{ resource: `tinycloud:pkh:eip155:1:${alice.address}:default/kv/photos/`, ability: 'tinycloud.kv/get' }],
      kind: 'cacao',
      registered: false,
    });
    expect(d.cid).toMatch(/^bafkr4i/);
    const expires = Date.parse(d.expiresAt) - Date.now();
    expect(expires).toBeGreaterThan(3500_000);
    expect(expires).toBeLessThanOrEqual(3600_000);
    token = d.token;
    cid = d.cid;
  });

  it('bob reads photos/a.jpg (the token is registered on first use)', async () => {
    const r = await asBob(['invoke', 'kv', 'get', 'photos/a.jpg']);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(Buffer.compare(bytes(r.stdout), readFileSync(at('a.jpg')))).toBe(0);
    const byCid = await asBob(['invoke', 'kv', 'get', 'photos/a.jpg', '--space', `tinycloud:pkh:eip155:1:${alice.address}:default`], cid);
    expect(byCid.exitCode, text(byCid.stderr)).toBe(0);
  });

  it('bob is refused docs/x, naming the missing capability', async () => {
    const r = await asBob(['invoke', 'kv', 'get', 'docs/x']);
    expect(r.exitCode).toBe(3);
    expect(squash(r.stderr)).toContain(`doesnotholdtinycloud.kv/getontinycloud:pkh:eip155:1:${alice.address}:default/kv/docs/x`);
    const j = await asBob(['invoke', 'kv', 'get', 'docs/x', at('x.out'), '--json']);
    expect(j.exitCode).toBe(3);
    expect(json<{ error: { missing: unknown } }>(j.stdout).error.missing).toEqual({
      resource: `tinycloud:pkh:eip155:1:${alice.address}:default/kv/docs/x`,
      ability: 'tinycloud.kv/get',
    });
  });

  it('bob is refused any put', async () => {
    writeFileSync(at('b.txt'), 'bob was here');
    for (const key of ['photos/b.txt', 'docs/b.txt']) {
      const r = await asBob(['invoke', 'kv', 'put', key, at('b.txt'), '--json']);
      expect(r.exitCode).toBe(3);
      const error = json<{ error: { code: string; missing: { resource: string; ability: string } } }>(r.stdout).error;
      expect(error.code).toBe('UNAUTHORIZED_ACTION');
      expect(error.missing).toEqual({ resource: `tinycloud:pkh:eip155:1:${alice.address}:default/kv/${key}`, ability: 'tinycloud.kv/put' });
    }
    const list = await cli(['invoke', 'kv', 'list', '--node', node.url, '--json']);
    expect(json<{ keys: string[] }>(list.stdout).keys).not.toContain('photos/b.txt');
  });

  it('bob re-delegates part of it to carol as a UCAN, no longer than his own', async () => {
    const carol = (JSON.parse(readFileSync(at('carol.key'), 'utf8')) as { did: string }).did;
    const tooLong = await cli(['delegate', '--from', at('bob.key'), '--proof', token, '--to', carol, '--ability', 'kv/get', '--expires', '2h']);
    expect(tooLong.exitCode).toBe(2);
    const r = await cli(['delegate', '--from', at('bob.key'), '--proof', token, '--to', carol, '--ability', 'kv/get', '--path', 'photos/a.jpg', '--node', node.url, '--json']);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    const d = json<{ token: string; kind: string; issuer: string; proofs: string[]; registered: boolean }>(r.stdout);
    expect(d).toMatchObject({ kind: 'ucan', issuer: bob, proofs: [cid], registered: true });
    const read = await tinycloud(['invoke', 'kv', 'get', 'photos/a.jpg', '--node', node.url, '--as', at('carol.key'), '--proof', d.token], {
      env: { TINYCLOUD_CONFIG_DIR: path.join(dir, 'carol-config') },
      encoding: 'buffer',
    });
    expect(read.exitCode, text(read.stderr)).toBe(0);
    expect(Buffer.compare(bytes(read.stdout), readFileSync(at('a.jpg')))).toBe(0);
  });

  it('after alice revokes, bob is refused photos/a.jpg too', async () => {
    const r = await cli(['delegate', 'revoke', cid, '--node', node.url, '--json']);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(json(r.stdout)).toMatchObject({ revoked: true, cid, revoker: `did:pkh:eip155:1:${alice.address}` });
    const refused = await asBob(['invoke', 'kv', 'get', 'photos/a.jpg']);
    expect(refused.exitCode).toBe(3);
    expect(squash(refused.stderr)).toContain(`delegation${cid}hasbeenrevoked`);
    const unknown = await cli(['delegate', 'revoke', 'bafkr4igispnoqgxd52ve2434ioklz4orhfcndquagp6h443ln2opjdttrm', '--node', node.url]);
    expect(unknown.exitCode).toBe(4);
  });
});

describe('an owner with an encrypted keystore', () => {
  it('signs once with the passphrase, then reuses the cached session without it', async () => {
    const wallet = Wallet.createRandom();
    writeFileSync(at('dave.json'), await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, 'hunter2', { scrypt: { N: 1024 } }));
    const config = at('dave-config');
    const base = { TINYCLOUD_CONFIG_DIR: config, TINYCLOUD_ETH_KEY: '' };
    const host = await cli(['delegate', 'host', '--node', node.url, '--space', 'notes', '--owner-key', at('dave.json'), '--json'], {
      env: { ...base, TINYCLOUD_KEYSTORE_PASSWORD: 'hunter2' },
    });
    expect(host.exitCode, text(host.stderr)).toBe(0);
    expect(json(host.stdout)).toMatchObject({ spaceId: `tinycloud:pkh:eip155:1:${wallet.address}:notes`, created: true });

    const put = await cli(['invoke', 'kv', 'put', 'todo', '-', '--space', 'notes', '--node', node.url, '--owner-key', at('dave.json'), '--json'], {
      env: base,
      input: 'buy milk',
    });
    expect(put.exitCode, text(put.stderr)).toBe(0);

    const wrong = await cli(['delegate', '--to', 'did:key:z6MkgeGo3YJpNxH8drTbkq52o5JA7AAGW1LkQrVZFHeyDsJc', '--ability', 'kv/get', '--space', 'notes', '--owner-key', at('dave.json')], {
      env: { ...base, TINYCLOUD_KEYSTORE_PASSWORD: 'wrong' },
    });
    expect(wrong.exitCode).toBe(3);
    expect(squash(wrong.stderr)).toContain('wrongpassphrase');
  });
});

/** Peak resident memory of a process (VmHWM), polled until it exits. */
function trackPeakRss(pid: number | undefined): { stop: () => number } {
  let peak = 0;
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb * 1024);
    } catch {
      // exited
    }
  };
  const timer = setInterval(read, 20);
  return {
    stop: () => {
      clearInterval(timer);
      read();
      return peak;
    },
  };
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Write `size` bytes (1 MiB random blocks, each stamped with its index) to `file`. */
function writeBigFile(file: string, size: number): Promise<void> {
  const MIB = 1024 * 1024;
  return new Promise<void>((resolve, reject) => {
    const out = createWriteStream(file);
    const block = randomBytes(MIB);
    let written = 0;
    const write = () => {
      while (written < size) {
        block.writeUInt32LE(written / MIB, 0);
        written += MIB;
        if (!out.write(Buffer.from(block))) return void out.once('drain', write);
      }
      out.end();
    };
    out.on('finish', resolve).on('error', reject);
    write();
  });
}

/** Run the CLI and report its peak resident memory. */
async function measured(args: string[]) {
  const running = cli(args);
  const memory = trackPeakRss(running.pid);
  const result = await running;
  return { result, peak: memory.stop() };
}

describe.runIf(process.platform === 'linux')('a large file', () => {
  const MIB = 1024 * 1024;
  const SIZE = 256 * MIB;

  it('goes up and down through the CLI with constant memory', { timeout: 300_000 }, async () => {
    const small = at('small.bin');
    const source = at('big.bin');
    const target = at('big.out');
    await writeBigFile(small, 4 * MIB);
    await writeBigFile(source, SIZE);

    // The CLI's own footprint (node, oclif, every command module) moving a small file: the baseline.
    const smallUp = await measured(['invoke', 'kv', 'put', 'big/small.bin', small, '--node', node.url, '--json']);
    const smallDown = await measured(['invoke', 'kv', 'get', 'big/small.bin', at('small.out'), '--node', node.url, '--json']);
    expect(smallUp.result.exitCode, text(smallUp.result.stderr)).toBe(0);
    expect(smallDown.result.exitCode, text(smallDown.result.stderr)).toBe(0);

    const up = await measured(['invoke', 'kv', 'put', 'big/blob.bin', source, '--node', node.url, '--json']);
    expect(up.result.exitCode, text(up.result.stderr)).toBe(0);
    expect(json(up.result.stdout)).toMatchObject({ size: SIZE });

    const down = await measured(['invoke', 'kv', 'get', 'big/blob.bin', target, '--node', node.url, '--json']);
    expect(down.result.exitCode, text(down.result.stderr)).toBe(0);
    expect(json(down.result.stdout)).toMatchObject({ size: SIZE, verified: true });
    expect(statSync(target).size).toBe(SIZE);
    expect(await sha256Of(target)).toBe(await sha256Of(source));

    const report = { smallUp: smallUp.peak / MIB, up: up.peak / MIB, smallDown: smallDown.peak / MIB, down: down.peak / MIB };
    for (const peak of [smallUp.peak, up.peak, smallDown.peak, down.peak]) expect(peak, JSON.stringify(report)).toBeGreaterThan(0);
    // Buffering would cost at least SIZE; streaming costs what a 4 MiB transfer costs, give or take GC slack.
    expect(up.peak - smallUp.peak, JSON.stringify(report)).toBeLessThan(48 * MIB);
    expect(down.peak - smallDown.peak, JSON.stringify(report)).toBeLessThan(48 * MIB);
    expect(up.peak, JSON.stringify(report)).toBeLessThan(SIZE * 0.85);
    expect(down.peak, JSON.stringify(report)).toBeLessThan(SIZE * 0.85);
    await Promise.all([small, source, target, at('small.out')].map((f) => rm(f, { force: true })));
  });
});

describe('--json is documented in every command\'s --help', () => {
  const commands = [
    ['delegate'],
    ['delegate', 'keygen'],
    ['delegate', 'host'],
    ['delegate', 'revoke'],
    ...['put', 'get', 'list', 'del', 'head', 'versions'].map((op) => ['invoke', 'kv', op]),
  ];
  it.each(commands.map((c) => [c.join(' '), c] as const))('%s', async (_name, command) => {
    const help = await cli([...command, '--help']);
    expect(help.exitCode).toBe(0);
    const flat = text(help.stdout).replace(/\s+/g, ' ');
    expect(flat).toMatch(/JSON output \(--json[^)]*\): \{/);
    expect(flat).toContain('--json Format output as json');
  });
});
