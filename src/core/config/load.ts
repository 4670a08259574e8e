import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { OPTIONS, envNamesOf, type OptionSpec } from './options.js';
import { Secret } from './secret.js';

export type BlockStoreConfig =
  | { type: 'Local'; path: string }
  | { type: 'S3'; bucket: string; endpoint?: string; region: string };

export interface Config {
  logLevel: string;
  address: string;
  port: number;
  cors: boolean;
  dataDir: string;
  configFile?: string;
  storage: {
    database: string;
    blocks: BlockStoreConfig;
    /** Per-space quota in bytes; `null` = unlimited. */
    limit: number | null;
    /** Largest single KV value in bytes (`storage.max_object_size`). */
    maxObjectSize: number;
    staging: 'Memory' | 'FileSystem';
    sqlPath: string;
    /** Time budget of one SQL invocation's statements, in seconds. */
    sqlTimeoutSecs: number;
  };
  keys: { type: 'Static'; secret: Secret; secretFile?: string };
  spaces: { allowlist?: string };
  invocation: { maxLifetimeSecs: number; verifyThreads: number };
  tee: { mode: 'Auto' | 'Dstack' | 'Off'; endpoint?: string };
  /** `TINYCLOUD_ADMIN_SECRET`: guards the /admin routes; unset = admin routes answer 503. */
  adminSecret?: Secret;
  /** Keys in the file that this build does not know (reported, not fatal). */
  warnings: string[];
}

/** One problem per line, each naming the key, the bad value (unless secret) and the expected form. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

export interface ConfigSources {
  /** Explicit `--config FILE`; else `TINYCLOUD_CONFIG_FILE`; else `<datadir>/tinycloud.toml` when present. */
  configFile?: string;
  /** Values from command-line flags, keyed by option key (`port`, `storage.datadir`, …). */
  flags?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

interface RawValue {
  value: unknown;
  origin: string;
  /** Relative paths from a file resolve against the file's directory, others against the cwd. */
  baseDir: string;
}

export interface RawConfig {
  values: Map<string, RawValue>;
  configFile?: string;
  warnings: string[];
  problems: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** `storage.max_object_size` unless configured: above WIRE's 1 GiB, so 2 GiB uploads work out of the box. */
export const DEFAULT_MAX_OBJECT_SIZE = 5 * 1024 ** 3;

const PATH_KEYS = new Set(['storage.datadir', 'storage.blocks.path', 'storage.sql.path', 'keys.secret_file']);
const KNOWN = new Map(OPTIONS.map((o) => [o.key, o]));

function flatten(table: Record<string, unknown>, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  for (const [name, value] of Object.entries(table)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
      flatten(value as Record<string, unknown>, key, out);
    } else {
      out.set(key, value);
    }
  }
  return out;
}

function readFileLayer(file: string, raw: RawConfig): void {
  let table: Record<string, unknown>;
  try {
    table = parseToml(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    raw.problems.push(`config file ${file}: ${(error as Error).message.split('\n')[0]}`);
    return;
  }
  // The reference node keeps its keys under a [global] profile; accept both layouts.
  const { global, ...rest } = table;
  const merged = { ...rest, ...((global as Record<string, unknown>) ?? {}) };
  for (const [key, value] of flatten(merged)) {
    if (!KNOWN.has(key)) {
      raw.warnings.push(`${file}: unknown key "${key}" ignored`);
      continue;
    }
    raw.values.set(key, { value, origin: file, baseDir: path.dirname(file) });
  }
}

function envLayer(raw: RawConfig): void {
  for (const option of OPTIONS) {
    for (const name of envNamesOf(option.key)) {
      const value = raw.env[name];
      if (value !== undefined && value !== '') raw.values.set(option.key, { value, origin: name, baseDir: raw.cwd });
    }
  }
}

function defaultDataDir(raw: RawConfig, flags: Record<string, unknown>): string {
  const fromFlag = flags['storage.datadir'];
  if (typeof fromFlag === 'string') return path.resolve(raw.cwd, fromFlag);
  const fromEnv = envNamesOf('storage.datadir').map((n) => raw.env[n]).find(Boolean);
  return path.resolve(raw.cwd, fromEnv ?? './data');
}

/** Merges defaults < file < env < flags without validating, so a caller can find the data dir first. */
export function readConfigSources(sources: ConfigSources = {}): RawConfig {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const flags = sources.flags ?? {};
  const raw: RawConfig = { values: new Map(), warnings: [], problems: [], env, cwd };

  const explicit = sources.configFile ?? env.TINYCLOUD_CONFIG_FILE;
  const candidate = explicit ? path.resolve(cwd, explicit) : path.join(defaultDataDir(raw, flags), 'tinycloud.toml');
  if (explicit && !existsSync(candidate)) {
    raw.problems.push(`config file ${candidate} does not exist; create it with \`tinycloud init\` or fix --config`);
  } else if (existsSync(candidate)) {
    raw.configFile = candidate;
    readFileLayer(candidate, raw);
  }
  envLayer(raw);
  for (const [key, value] of Object.entries(flags)) {
    if (value !== undefined) raw.values.set(key, { value, origin: 'flag', baseDir: cwd });
  }
  return raw;
}

function describe(option: OptionSpec, value: unknown): string {
  return option.secret ? '(hidden)' : JSON.stringify(value);
}

export function resolveDataDir(raw: RawConfig): string {
  const entry = raw.values.get('storage.datadir');
  if (entry && typeof entry.value === 'string') return path.resolve(entry.baseDir, entry.value);
  return path.resolve(raw.cwd, './data');
}

/** Validates once; throws ConfigError listing every problem. */
export function validateConfig(raw: RawConfig): Config {
  const problems = [...raw.problems];
  const get = <T>(key: string): T | undefined => {
    const option = KNOWN.get(key)!;
    const entry = raw.values.get(key);
    if (!entry) return undefined;
    const parsed = option.parse(entry.value);
    if (!parsed.ok) {
      problems.push(`${key}: ${describe(option, entry.value)} is not ${parsed.expected} (from ${entry.origin})`);
      return undefined;
    }
    if (PATH_KEYS.has(key)) return path.resolve(entry.baseDir, parsed.value as string) as T;
    return parsed.value as T;
  };

  const dataDir = get<string>('storage.datadir') ?? path.resolve(raw.cwd, './data');
  const blocksType = get<'Local' | 'S3'>('storage.blocks.type') ?? 'Local';
  let blocks: BlockStoreConfig;
  if (blocksType === 'S3') {
    const bucket = get<string>('storage.blocks.bucket');
    if (!bucket) problems.push('storage.blocks.bucket: required when storage.blocks.type is "S3" (set TINYCLOUD_STORAGE_BLOCKS_BUCKET)');
    blocks = { type: 'S3', bucket: bucket ?? '', endpoint: get<string>('storage.blocks.endpoint'), region: get<string>('storage.blocks.region') ?? 'us-east-1' };
  } else {
    blocks = { type: 'Local', path: get<string>('storage.blocks.path') ?? path.join(dataDir, 'blocks') };
  }

  let secret = get<Uint8Array>('keys.secret');
  const secretFile = get<string>('keys.secret_file') ?? path.join(dataDir, 'secret');
  if (!secret && !raw.values.has('keys.secret')) {
    if (!existsSync(secretFile)) {
      problems.push(`keys.secret_file: ${secretFile} does not exist; run \`tinycloud init --dir ${dataDir}\` or set TINYCLOUD_KEYS_SECRET`);
    } else {
      const text = readFileSync(secretFile, 'utf8').trim();
      const parsed = KNOWN.get('keys.secret')!.parse(text);
      if (parsed.ok) secret = parsed.value as Uint8Array;
      else problems.push(`keys.secret_file: ${secretFile} does not hold ${parsed.expected}`);
    }
  }

  const limit = get<number>('storage.limit');
  if (get<number>('storage.max_object_size') === 0) problems.push('storage.max_object_size: 0 would refuse every value; write e.g. "5 GiB"');
  const adminSecret = raw.env.TINYCLOUD_ADMIN_SECRET;
  const config: Config = {
    logLevel: get<string>('log_level') ?? 'info',
    address: get<string>('address') ?? '127.0.0.1',
    port: get<number>('port') ?? 8000,
    cors: get<boolean>('cors') ?? true,
    dataDir,
    configFile: raw.configFile,
    storage: {
      database: get<string>('storage.database') ?? `sqlite:${path.join(dataDir, 'caps.db')}`,
      blocks,
      limit: limit ? limit : null,
      maxObjectSize: get<number>('storage.max_object_size') ?? DEFAULT_MAX_OBJECT_SIZE,
      staging: get<'Memory' | 'FileSystem'>('storage.staging') ?? 'Memory',
      sqlPath: get<string>('storage.sql.path') ?? path.join(dataDir, 'sql'),
      sqlTimeoutSecs: get<number>('storage.sql.timeout_secs') ?? 10,
    },
    keys: { type: 'Static', secret: new Secret(secret ?? new Uint8Array()), secretFile: secret && raw.values.has('keys.secret') ? undefined : secretFile },
    spaces: { allowlist: get<string>('spaces.allowlist') },
    invocation: {
      maxLifetimeSecs: get<number>('invocation.max_lifetime_secs') ?? 300,
      verifyThreads: get<number>('invocation.verify_threads') ?? (availableParallelism() > 1 ? 1 : 0),
    },
    tee: { mode: get<'Auto' | 'Dstack' | 'Off'>('tee.mode') ?? 'Auto', endpoint: get<string>('tee.endpoint') ?? (raw.env.DSTACK_SIMULATOR_ENDPOINT || undefined) },
    adminSecret: adminSecret ? new Secret(new TextEncoder().encode(adminSecret)) : undefined,
    warnings: raw.warnings,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

export function loadConfig(sources: ConfigSources = {}): Config {
  return validateConfig(readConfigSources(sources));
}
