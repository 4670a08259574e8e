import { readFileSync, statSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CLI, tinycloud } from '../support/cli.js';
import { freePort } from '../support/db-servers.js';
import { tempDir } from '../support/test-node.js';

/** oclif wraps long error messages for the terminal; read them as one line. */
const oneLine = (text: string) => text.replace(/\s*›\s*/g, ' ').replace(/\s+/g, ' ');

describe('tinycloud init', () => {
  it('creates the data dir, a 0600 secret and a commented config, and prints JSON', async () => {
    const dir = path.join(tempDir(), 'data');
    const result = await tinycloud(['init', '--dir', dir, '--json']);
    expect(result.exitCode).toBe(0);
    const out = JSON.parse(String(result.stdout));
    expect(out).toMatchObject({ dataDir: dir, configFile: path.join(dir, 'tinycloud.toml'), secretFile: path.join(dir, 'secret') });
    expect(out.nodeDid).toMatch(/^did:key:z6Mk/);
    expect(statSync(path.join(dir, 'secret')).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path.join(dir, 'secret'), 'utf8').trim(), 'base64url')).toHaveLength(32);
    expect(statSync(path.join(dir, 'blocks')).isDirectory()).toBe(true);
    expect(statSync(path.join(dir, 'caps.db')).size).toBeGreaterThan(0);
    const toml = readFileSync(path.join(dir, 'tinycloud.toml'), 'utf8');
    for (const env of ['TINYCLOUD_PORT', 'TINYCLOUD_STORAGE_BLOCKS_PATH', 'TINYCLOUD_STORAGE_LIMIT', 'TINYCLOUD_INVOCATION_MAX_LIFETIME_SECS', 'TINYCLOUD_SPACES_ALLOWLIST']) {
      expect(toml).toContain(env);
    }
    expect(toml).toContain('keys.secret_file = "secret"');
  });

  it('refuses to replace an existing secret, explaining what --force would destroy', async () => {
    const dir = tempDir();
    await tinycloud(['init', '--dir', dir]);
    const before = readFileSync(path.join(dir, 'secret'));
    const again = await tinycloud(['init', '--dir', dir]);
    expect(again.exitCode).toBe(1);
    expect(oneLine(String(again.stderr))).toMatch(/already exists.*--force.*destroy access to every space/);
    expect(readFileSync(path.join(dir, 'secret'))).toEqual(before);
    const forced = await tinycloud(['init', '--dir', dir, '--force', '--json']);
    expect(forced.exitCode).toBe(0);
    expect(readFileSync(path.join(dir, 'secret'))).not.toEqual(before);
  });
});

async function waitForListening(child: ReturnType<typeof execa>): Promise<{ url: string; nodeDid: string }> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      // Only whole lines: a chunk may end in the middle of the JSON.
      const line = buffer.split('\n').slice(0, -1).find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${buffer}`)));
  });
}

describe('tinycloud serve', () => {
  it('initialises a missing data dir, answers /info with protocol 1, and exits 0 on SIGINT within 2 s', async () => {
    const dir = path.join(tempDir(), 'fresh');
    const port = await freePort();
    const child = execa('node', [CLI, 'serve', '--dir', dir, '--port', String(port), '--json'], { reject: false, env: { TINYCLOUD_LOG_LEVEL: 'silent' } });
    const { url, nodeDid } = await waitForListening(child);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const info = (await (await fetch(`${url}/info`)).json()) as { nodeId: string };
    expect(info).toMatchObject({ protocol: 1, nodeId: nodeDid, version: expect.any(String), features: expect.any(Array) });
    expect(info.nodeId).toMatch(/^did:key:z6Mk/);
    expect(await (await fetch(`${url}/version`)).json()).toEqual(info);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const started = Date.now();
    child.kill('SIGINT');
    const exit = await child;
    expect(exit.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('exits non-zero with one line naming `port` when TINYCLOUD_PORT is not a number', async () => {
    const dir = tempDir();
    await tinycloud(['init', '--dir', dir]);
    const result = await tinycloud(['serve', '--dir', dir], { env: { TINYCLOUD_PORT: 'abc' } });
    expect(result.exitCode).not.toBe(0);
    const lines = String(result.stderr).split('\n').filter((l) => /port/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/port: "abc" is not a port number/);
  });

  it('exits non-zero naming the database when it cannot be reached', async () => {
    const dir = tempDir();
    await tinycloud(['init', '--dir', dir]);
    const result = await tinycloud(['serve', '--dir', dir, '--port', '0'], { env: { TINYCLOUD_STORAGE_DATABASE: 'postgres://tc:secretpw@127.0.0.1:1/none' } });
    expect(result.exitCode).not.toBe(0);
    expect(oneLine(String(result.stderr))).toMatch(/storage\.database: cannot use postgres:\/\/tc:\*\*\*@127\.0\.0\.1:1\/none/);
    expect(String(result.stderr) + String(result.stdout)).not.toContain('secretpw');
  });

  it('reads a config file given with --config, relative paths resolved beside it', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'etc'));
    await tinycloud(['init', '--dir', path.join(dir, 'data')]);
    copyFileSync(path.join(dir, 'data', 'secret'), path.join(dir, 'etc', 'node.secret'));
    const port = await freePort();
    writeFileSync(path.join(dir, 'etc', 'node.toml'), `port = ${port}\n[storage]\ndatadir = "../data"\n[keys]\nsecret_file = "node.secret"\n`);
    const child = execa('node', [CLI, 'serve', '--config', path.join(dir, 'etc', 'node.toml'), '--json'], { reject: false, env: { TINYCLOUD_LOG_LEVEL: 'silent' } });
    const { url } = await waitForListening(child);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    child.kill('SIGTERM');
    const exit = await child;
    expect({ code: exit.exitCode, signal: exit.signal, stderr: exit.stderr }).toEqual({ code: 0, signal: undefined, stderr: '' });
  });
});

describe('tinycloud --help', () => {
  it('lists every command with a one-line summary', async () => {
    const result = await tinycloud(['--help']);
    expect(result.exitCode).toBe(0);
    for (const command of ['init', 'serve']) expect(String(result.stdout)).toMatch(new RegExp(`^\\s+${command}\\s+\\S`, 'm'));
  });

  it.each(['init', 'serve'])('shows an example for %s', async (command) => {
    const result = await tinycloud([command, '--help']);
    expect(result.exitCode).toBe(0);
    expect(String(result.stdout)).toMatch(/EXAMPLES[\s\S]*\$ tinycloud /);
  });
});
