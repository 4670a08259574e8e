import { describe, expect, it } from 'vitest';
import { benchAuth } from '../../src/bench/auth.js';

describe('auth bench', () => {
  it('measures authorized invocations beside bare fastify and reports the ratio', async () => {
    const rows = await benchAuth({ requests: 300, concurrency: 8 });
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ unit: 'req/s' });
    expect(rows[1]!.value).toBeGreaterThan(0);
    expect(rows[1]!.ratio).toBeCloseTo(rows[1]!.value / rows[0]!.value, 6);
  });
});
