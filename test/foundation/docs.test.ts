import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPTIONS, envNamesOf } from '../../src/core/config/options.js';
import { renderConfigTemplate } from '../../src/core/datadir.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('documentation stays true to the code', () => {
  it.each(OPTIONS.map((o) => o.key))('the README config table and the toml template list %s with its env name', (key) => {
    const [env] = envNamesOf(key);
    expect(readme).toContain(`| \`${key}\` | \`${env}\` |`);
    expect(renderConfigTemplate()).toContain(env);
  });

  it('shows the two set-up commands and the test command', () => {
    for (const command of ['npm install', 'npx tinycloud serve', 'npm test']) expect(readme).toContain(command);
  });
});
