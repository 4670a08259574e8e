import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/core/config/load.js';
import { parseByteSize } from '../../src/core/config/sizes.js';
import { tempDir } from '../support/test-node.js';

const SECRET = Buffer.alloc(32, 9).toString('base64url');

function dataDirWith(toml?: string): string {
  const dir = tempDir();
  writeFileSync(path.join(dir, 'secret'), SECRET);
  if (toml !== undefined) writeFileSync(path.join(dir, 'tinycloud.toml'), toml);
  return dir;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration precedence', () => {
  it('uses the defaults of the reference table when nothing is set', () => {
    const dir = dataDirWith();
    const config = loadConfig({ env: {}, flags: { 'storage.datadir': dir } });
    expect(config.port).toBe(8000);
    expect(config.address).toBe('127.0.0.1');
    expect(config.invocation.maxLifetimeSecs).toBe(300);
    expect(config.storage.blocks).toEqual({ type: 'Local', path: path.join(dir, 'blocks') });
    expect(config.storage.database).toBe(`sqlite:${path.join(dir, 'caps.db')}`);
    expect(config.storage.limit).toBeNull();
    expect(config.storage.staging).toBe('Memory');
  });

  it('lets the file override defaults, env override the file, and flags override env', () => {
    const dir = dataDirWith('port = 9001\naddress = "0.0.0.0"\n[storage]\nlimit = "1 MiB"\n');
    const fileOnly = loadConfig({ env: {}, flags: { 'storage.datadir': dir } });
    expect(fileOnly.port).toBe(9001);
    expect(fileOnly.storage.limit).toBe(1024 * 1024);
    const withEnv = loadConfig({ env: { TINYCLOUD_PORT: '9002', TINYCLOUD_STORAGE_LIMIT: '2 MiB' }, flags: { 'storage.datadir': dir } });
    expect(withEnv.port).toBe(9002);
    expect(withEnv.storage.limit).toBe(2 * 1024 * 1024);
    expect(withEnv.address).toBe('0.0.0.0');
    const withFlag = loadConfig({ env: { TINYCLOUD_PORT: '9002' }, flags: { 'storage.datadir': dir, port: '9003' } });
    expect(withFlag.port).toBe(9003);
  });

  it('reads the reference env names, single and double underscore', () => {
    const dir = dataDirWith();
    const config = loadConfig({
      env: { TINYCLOUD_STORAGE_BLOCKS_PATH: '/srv/blocks', TINYCLOUD_INVOCATION__MAX_LIFETIME_SECS: '60', TINYCLOUD_STORAGE__STAGING: 'FileSystem' },
      flags: { 'storage.datadir': dir },
    });
    expect(config.storage.blocks).toEqual({ type: 'Local', path: '/srv/blocks' });
    expect(config.invocation.maxLifetimeSecs).toBe(60);
    expect(config.storage.staging).toBe('FileSystem');
  });

  it('accepts the reference node layout with keys under [global]', () => {
    const dir = dataDirWith('[global]\nport = 8111\n[global.storage.blocks]\ntype = "Local"\npath = "b"\n');
    const config = loadConfig({ env: {}, flags: { 'storage.datadir': dir } });
    expect(config.port).toBe(8111);
    expect(config.storage.blocks).toEqual({ type: 'Local', path: path.join(dir, 'b') });
  });

  it('configures S3 block storage from the environment', () => {
    const dir = dataDirWith();
    const config = loadConfig({
      env: { TINYCLOUD_STORAGE_BLOCKS_TYPE: 's3', TINYCLOUD_STORAGE_BLOCKS_BUCKET: 'blocks', TINYCLOUD_STORAGE_BLOCKS_ENDPOINT: 'http://127.0.0.1:9000' },
      flags: { 'storage.datadir': dir },
    });
    expect(config.storage.blocks).toEqual({ type: 'S3', bucket: 'blocks', endpoint: 'http://127.0.0.1:9000', region: 'us-east-1' });
  });
});

describe('configuration validation', () => {
  const dir = dataDirWith();
  const problems = (env: Record<string, string>) => problemsOf(() => loadConfig({ env, flags: { 'storage.datadir': dir } }));

  it.each([
    [{ TINYCLOUD_PORT: 'abc' }, /^port: "abc" is not a port number from 0 to 65535 \(from TINYCLOUD_PORT\)$/],
    [{ TINYCLOUD_PORT: '70000' }, /^port: "70000" is not a port number/],
    [{ TINYCLOUD_STORAGE_LIMIT: 'ten' }, /^storage\.limit: "ten" is not a size; write e\.g\. "10 MiB"/],
    [{ TINYCLOUD_STORAGE_BLOCKS_TYPE: 'Floppy' }, /^storage\.blocks\.type: "Floppy" is not one of Local, S3/],
    [{ TINYCLOUD_STORAGE_DATABASE: 'oracle://x' }, /^storage\.database: "oracle:\/\/x" is not a database URL/],
    [{ TINYCLOUD_STORAGE_STAGING: 'Tape' }, /^storage\.staging: "Tape" is not one of Memory, FileSystem/],
    [{ TINYCLOUD_LOG_LEVEL: 'loud' }, /^log_level: "loud" is not one of trace, debug/],
    [{ TINYCLOUD_CORS: 'maybe' }, /^cors: "maybe" is not true or false/],
    [{ TINYCLOUD_INVOCATION__MAX_LIFETIME_SECS: '0' }, /^invocation\.max_lifetime_secs: "0" is not a number of seconds/],
    [{ TINYCLOUD_SPACES_ALLOWLIST: 'not a url' }, /^spaces\.allowlist: "not a url" is not an http\(s\) URL/],
    [{ TINYCLOUD_STORAGE_BLOCKS_TYPE: 'S3' }, /^storage\.blocks\.bucket: required when storage\.blocks\.type is "S3"/],
  ])('rejects %o naming the key, the value and the expected form', (env, message) => {
    const found = problems(env);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('never echoes a secret, even a malformed one', () => {
    const found = problems({ TINYCLOUD_KEYS_SECRET: 'short-secret-value' });
    expect(found).toEqual([expect.stringMatching(/^keys\.secret: \(hidden\) is not unpadded base64url of at least 32 random bytes/)]);
    expect(found.join('\n')).not.toContain('short-secret-value');
  });

  it('rejects padded base64 and secrets shorter than 32 bytes', () => {
    expect(problems({ TINYCLOUD_KEYS_SECRET: `${Buffer.alloc(32).toString('base64')}` })).toHaveLength(1);
    expect(problems({ TINYCLOUD_KEYS_SECRET: Buffer.alloc(31, 1).toString('base64url') })).toHaveLength(1);
  });

  it('accepts an inline secret from the environment instead of the secret file', () => {
    const empty = tempDir();
    const config = loadConfig({ env: { TINYCLOUD_KEYS_SECRET: SECRET }, flags: { 'storage.datadir': empty } });
    expect(Buffer.from(config.keys.secret.reveal()).toString('base64url')).toBe(SECRET);
    expect(JSON.stringify(config)).not.toContain(SECRET);
  });

  it('says how to fix a missing secret file', () => {
    const empty = tempDir();
    expect(problemsOf(() => loadConfig({ env: {}, flags: { 'storage.datadir': empty } }))[0]).toMatch(/keys\.secret_file: .* does not exist; run `tinycloud init --dir/);
  });

  it('reports a TOML syntax error with the file name', () => {
    const broken = dataDirWith('port = = 1');
    expect(problemsOf(() => loadConfig({ env: {}, flags: { 'storage.datadir': broken } }))[0]).toMatch(/tinycloud\.toml/);
  });

  it('warns about unknown keys in the file without failing', () => {
    const odd = dataDirWith('colour = "blue"\n');
    expect(loadConfig({ env: {}, flags: { 'storage.datadir': odd } }).warnings).toEqual([expect.stringContaining('unknown key "colour"')]);
  });
});

describe('byte sizes', () => {
  it.each([
    ['10 MiB', 10 * 2 ** 20],
    ['100GiB', 100 * 2 ** 30],
    ['512 kB', 512_000],
    ['1.5 KiB', 1536],
    ['42', 42],
  ])('parses %s', (text, bytes) => expect(parseByteSize(text)).toBe(bytes));

  it.each(['ten', '10 parsecs', '-1 MiB', ''])('rejects %s', (text) => expect(parseByteSize(text)).toBeUndefined());
});
