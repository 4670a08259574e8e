import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { envNamesOf, OPTIONS } from './config/options.js';
import { Secret } from './config/secret.js';
import { openMetadataDb } from './db/database.js';
import { TinyCloudError } from './errors.js';
import { NodeKeys } from './keys/node-keys.js';

export interface InitResult {
  dataDir: string;
  configFile: string;
  secretFile: string;
  blocksDir: string;
  database: string;
  nodeDid: string;
}

const TEMPLATE = new URL('../../templates/tinycloud.toml', import.meta.url);

/** Lines for every option: its doc, env name and default, then the option itself, commented out. */
export function renderConfigTemplate(): string {
  const blocks = OPTIONS.map((option) => {
    const [env] = envNamesOf(option.key);
    const defaultText = option.defaultText ? ` Default: ${option.defaultText}.` : '';
    const comment = `# ${option.doc}. Env: ${env}.${defaultText}`;
    // The secret file is the one active line: init writes it beside this file.
    if (option.key === 'keys.secret_file') return `${comment}\nkeys.secret_file = "secret"`;
    return `${comment}\n# ${option.key} = ${option.example}`;
  });
  return readFileSync(TEMPLATE, 'utf8').replace('{{OPTIONS}}', blocks.join('\n\n'));
}

/**
 * Creates a data dir: blocks/, the metadata DB with migrations applied, tinycloud.toml and a fresh secret.
 * Refuses to replace an existing secret unless `force`: a new secret changes every host key.
 */
export async function initDataDir(dir: string, options: { force?: boolean } = {}): Promise<InitResult> {
  const dataDir = path.resolve(dir);
  const secretFile = path.join(dataDir, 'secret');
  const configFile = path.join(dataDir, 'tinycloud.toml');
  const blocksDir = path.join(dataDir, 'blocks');
  const database = `sqlite:${path.join(dataDir, 'caps.db')}`;

  if (existsSync(secretFile) && !options.force) {
    throw new TinyCloudError(
      'CONFLICT',
      `${secretFile} already exists; refusing to replace it. --force would generate a new secret and destroy access to every space this node hosts.`,
    );
  }
  mkdirSync(blocksDir, { recursive: true });
  const secretBytes = randomBytes(32);
  writeFileSync(secretFile, `${secretBytes.toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(secretFile, 0o600);
  if (!existsSync(configFile) || options.force) writeFileSync(configFile, renderConfigTemplate(), { mode: 0o644 });

  const metadata = await openMetadataDb(database);
  await metadata.close();
  const keys = await NodeKeys.create(new Secret(new Uint8Array(secretBytes)));
  return { dataDir, configFile, secretFile, blocksDir, database, nodeDid: keys.nodeDid };
}
