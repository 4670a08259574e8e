import { describe, expect, it } from 'vitest';
import { benchAuth } from '../../src/bench/auth.js';

describe('auth bench', () => {
  it('measures authorized invocations beside bare fastify and the Ed25519 ceiling, and reports the ratios', async () => {
    const rows = await benchAuth({ requests: 300, concurrency: 8 });
    const row = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))!;
    const verify = row('node:crypto Ed25519');
    const bare = row('bare fastify');
    const authorized = row('authorized no-op invocation (');
    const ceiling = row('authorized no-op invocation vs');
    expect(verify).toMatchObject({ unit: 'verify/s' });
    expect(bare).toMatchObject({ unit: 'req/s' });
    expect(authorized.value).toBeGreaterThan(0);
    expect(authorized.ratio).toBeCloseTo(authorized.value / bare.value, 6);
    expect(ceiling.ratio).toBeCloseTo(authorized.value / verify.value, 6);
  });
});
