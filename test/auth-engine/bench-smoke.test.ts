import { describe, expect, it } from 'vitest';
import { benchAuth } from '../../src/bench/auth.js';
import { benchCar } from '../../src/bench/car.js';
import { canWatchRss } from '../../src/bench/child-rss.js';

const MiB = 1024 * 1024;

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

describe('CAR bench', () => {
  it('measures export and import beside a plain copy, then the peak RSS of the spawned CLI commands', async () => {
    const rows = await benchCar({ contentBytes: 3 * MiB, valueBytes: MiB });
    const names = rows.map((r) => r.name);
    expect(names.slice(0, 3)).toEqual([
      'plain file copy of the CAR, 3 MiB (read, write, fsync)',
      'export 3 MiB space to a CAR file',
      'import 3 MiB CAR into a fresh node (verify + commit)',
    ]);
    expect(names.some((n) => n.includes('bench process'))).toBe(false);
    const rss = rows.slice(3);
    // Without /proc the rows are left out rather than filled with a number that is not the CLI's.
    if (!canWatchRss()) return expect(rss).toEqual([]);
    expect(rss.map((r) => r.name)).toEqual(['peak RSS of `tinycloud export` (3 MiB space, own process)', 'peak RSS of `tinycloud import` (3 MiB CAR, fresh data dir)']);
    for (const row of rss) {
      expect(row).toMatchObject({ unit: 'MiB', target: '< 300 MiB at 5 GiB' });
      // A whole CLI process: the engine's modules alone are tens of MiB; more than a GiB would be a wrong reading.
      expect(row.value).toBeGreaterThan(30);
      expect(row.value).toBeLessThan(1024);
    }
  });
});
