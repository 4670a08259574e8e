import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The package version, reported by `/info` and `tinycloud --version`. */
export const NODE_VERSION: string = packageJson.version;

/** The wire protocol this node speaks (WIRE §1.3); the SDK refuses anything else. */
export const PROTOCOL_VERSION = 1;
