import { parseByteSize } from './sizes.js';

/**
 * Every configuration option, in one table. Loading, validation, the env names, the README table and the
 * `tinycloud.toml` template are all derived from this list, so they cannot drift apart.
 */
export type Parsed = { ok: true; value: unknown } | { ok: false; expected: string };

export interface OptionSpec {
  key: string;
  doc: string;
  /** Example value written (commented) into the template. */
  example: string;
  /** Default as shown to users; `undefined` means unset. */
  defaultText?: string;
  secret?: boolean;
  parse(raw: unknown): Parsed;
}

const accept = (value: unknown): Parsed => ({ ok: true, value });
const reject = (expected: string): Parsed => ({ ok: false, expected });

const string =
  (expected = 'a string') =>
  (raw: unknown): Parsed =>
    typeof raw === 'string' && raw.length > 0 ? accept(raw) : reject(expected);

function oneOf(...choices: string[]) {
  return (raw: unknown): Parsed => {
    const text = String(raw);
    const hit = choices.find((c) => c.toLowerCase() === text.toLowerCase());
    return hit ? accept(hit) : reject(`one of ${choices.join(', ')}`);
  };
}

function integer(min: number, max: number, expected: string) {
  return (raw: unknown): Parsed => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    return Number.isInteger(n) && n >= min && n <= max ? accept(n) : reject(expected);
  };
}

function boolean(raw: unknown): Parsed {
  if (typeof raw === 'boolean') return accept(raw);
  const text = String(raw).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return accept(true);
  if (['false', '0', 'no', 'off'].includes(text)) return accept(false);
  return reject('true or false');
}

function byteSize(raw: unknown): Parsed {
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return accept(raw);
  const bytes = typeof raw === 'string' ? parseByteSize(raw) : undefined;
  return bytes === undefined ? reject('a size; write e.g. "10 MiB"') : accept(bytes);
}

function url(protocols: string[], expected: string) {
  return (raw: unknown): Parsed => {
    if (typeof raw !== 'string') return reject(expected);
    try {
      const parsed = new URL(raw);
      return protocols.includes(parsed.protocol) ? accept(raw) : reject(expected);
    } catch {
      return reject(expected);
    }
  };
}

function databaseUrl(raw: unknown): Parsed {
  const expected = 'a database URL: "sqlite:PATH", "sqlite::memory:", "postgres://…" or "mysql://…"';
  if (typeof raw !== 'string') return reject(expected);
  if (/^sqlite:.+/.test(raw)) return accept(raw);
  return url(['postgres:', 'postgresql:', 'mysql:', 'mariadb:'], expected)(raw);
}

/** Unpadded base64url of at least 32 bytes. Never echoed back: the value is a secret. */
function secretKey(raw: unknown): Parsed {
  const expected = 'unpadded base64url of at least 32 random bytes (value hidden)';
  if (typeof raw !== 'string' || !/^[A-Za-z0-9_-]+$/.test(raw)) return reject(expected);
  const bytes = Buffer.from(raw, 'base64url');
  return bytes.length >= 32 ? accept(new Uint8Array(bytes)) : reject(expected);
}

function logLevel(raw: unknown): Parsed {
  // Rocket's names are accepted too, so a reference node's toml keeps working.
  const aliases: Record<string, string> = { normal: 'info', critical: 'error', off: 'silent' };
  const text = String(raw).toLowerCase();
  const level = aliases[text] ?? text;
  return ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(level)
    ? accept(level)
    : reject('one of trace, debug, info, warn, error, fatal, silent');
}

export const OPTIONS: OptionSpec[] = [
  { key: 'log_level', doc: 'Log verbosity', example: '"info"', defaultText: 'info', parse: logLevel },
  { key: 'address', doc: 'Address to listen on', example: '"127.0.0.1"', defaultText: '127.0.0.1', parse: string('an IP address or host name') },
  { key: 'port', doc: 'TCP port to listen on', example: '8000', defaultText: '8000', parse: integer(0, 65535, 'a port number from 0 to 65535') },
  { key: 'cors', doc: 'Send permissive CORS headers (browser SDKs need them)', example: 'true', defaultText: 'true', parse: boolean },
  { key: 'storage.datadir', doc: 'Data directory (blocks, metadata DB, SQL databases)', example: '"./data"', defaultText: './data', parse: string('a directory path') },
  { key: 'storage.database', doc: 'Metadata database URL', example: '"sqlite:./data/caps.db"', defaultText: 'sqlite:{datadir}/caps.db', parse: databaseUrl },
  { key: 'storage.blocks.type', doc: 'Block store: Local or S3', example: '"Local"', defaultText: 'Local', parse: oneOf('Local', 'S3') },
  { key: 'storage.blocks.path', doc: 'Local block directory', example: '"./data/blocks"', defaultText: '{datadir}/blocks', parse: string('a directory path') },
  { key: 'storage.blocks.bucket', doc: 'S3 bucket (type S3)', example: '"tinycloud-blocks"', parse: string('a bucket name') },
  { key: 'storage.blocks.endpoint', doc: 'S3 endpoint for MinIO, R2, … (type S3; omit for AWS)', example: '"http://127.0.0.1:9000"', parse: url(['http:', 'https:'], 'an http(s) URL') },
  { key: 'storage.blocks.region', doc: 'S3 region (type S3)', example: '"us-east-1"', defaultText: 'us-east-1', parse: string('a region name') },
  { key: 'storage.limit', doc: 'Per-space storage quota; 0 = unlimited', example: '"10 GiB"', defaultText: 'unlimited', parse: byteSize },
  { key: 'storage.max_object_size', doc: 'Largest single KV value (WIRE §4 promises 1 GiB; other nodes may refuse more)', example: '"5 GiB"', defaultText: '5 GiB', parse: byteSize },
  { key: 'storage.staging', doc: 'Where request bodies wait before commit: Memory or FileSystem', example: '"Memory"', defaultText: 'Memory', parse: oneOf('Memory', 'FileSystem') },
  { key: 'storage.sql.path', doc: 'Directory of the per-space SQLite databases', example: '"./data/sql"', defaultText: '{datadir}/sql', parse: string('a directory path') },
  { key: 'storage.sql.timeout_secs', doc: 'Time limit of one SQL invocation\'s statements, in seconds; past it they are stopped (408)', example: '10', defaultText: '10', parse: integer(1, 3600, 'a number of seconds from 1 to 3600') },
  { key: 'keys.type', doc: 'Key source: Static', example: '"Static"', defaultText: 'Static', parse: oneOf('Static') },
  { key: 'keys.secret', doc: 'Node secret (unpadded base64url, >= 32 bytes); prefer keys.secret_file', example: '"…"', secret: true, parse: secretKey },
  { key: 'keys.secret_file', doc: 'File holding the node secret', example: '"./data/secret"', defaultText: '{datadir}/secret', parse: string('a file path') },
  { key: 'spaces.allowlist', doc: 'URL consulted before a new space is hosted', example: '"https://allowlist.example/spaces"', parse: url(['http:', 'https:'], 'an http(s) URL') },
  { key: 'invocation.max_lifetime_secs', doc: 'Longest invocation lifetime accepted, in seconds', example: '300', defaultText: '300', parse: integer(1, 86400, 'a number of seconds from 1 to 86400') },
  { key: 'invocation.verify_threads', doc: 'Worker threads for invocation signature checks; 0 = on the event loop', example: '1', defaultText: '1 with two or more cores, else 0', parse: integer(0, 64, 'a number of threads from 0 to 64') },
  { key: 'tee.mode', doc: 'TEE integration: Auto, Dstack or Off', example: '"Auto"', defaultText: 'Auto', parse: oneOf('Auto', 'Dstack', 'Off') },
  { key: 'tee.endpoint', doc: 'dstack guest agent: socket path or simulator URL (also DSTACK_SIMULATOR_ENDPOINT)', example: '"/var/run/dstack.sock"', defaultText: '/var/run/dstack.sock', parse: string('a socket path or http(s) URL') },
];

/** `storage.blocks.path` → `TINYCLOUD_STORAGE_BLOCKS_PATH` (the reference's legacy form) and `…__BLOCKS__…`. */
export function envNamesOf(key: string): [legacy: string, canonical: string] {
  const upper = key.toUpperCase();
  return [`TINYCLOUD_${upper.replaceAll('.', '_')}`, `TINYCLOUD_${upper.replaceAll('.', '__')}`];
}
