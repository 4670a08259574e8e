import { execa, type Options } from 'execa';
import { fileURLToPath } from 'node:url';

/** The built CLI, run exactly as a user runs it (`npm test` builds first). */
export const CLI = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

export function tinycloud(args: string[], options: Options = {}) {
  return execa('node', [CLI, ...args], { reject: false, env: { TINYCLOUD_LOG_LEVEL: 'silent', ...options.env }, ...options });
}
