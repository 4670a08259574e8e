import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench`: every suite measures our throughput beside a baseline taken in the same run on the same
 * machine, and reports the ratio. Absolute numbers on a shared 2-core machine are noise; ratios are not.
 */
export interface BenchRow {
  suite?: string;
  name: string;
  value: number;
  unit: string;
  /** our / baseline, measured in this run. */
  ratio?: number;
  baseline?: string;
  target?: string;
}

export type BenchSuite = () => Promise<BenchRow[]>;

const SUITES = ['auth', 'kv', 'sql', 'car'];

function format(rows: BenchRow[]): string {
  const header = ['suite', 'measure', 'value', 'unit', 'ratio', 'baseline', 'target'];
  const table = rows.map((r) => [
    r.suite ?? '',
    r.name,
    r.value >= 100 ? r.value.toFixed(0) : r.value.toFixed(2),
    r.unit,
    r.ratio === undefined ? '' : `${(r.ratio * 100).toFixed(1)}%`,
    r.baseline ?? '',
    r.target ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n');
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const rows: BenchRow[] = [];
  for (const suite of SUITES) {
    if (only.length && !only.includes(suite)) continue;
    const file = new URL(`./${suite}.js`, import.meta.url);
    if (!existsSync(fileURLToPath(file))) continue;
    process.stderr.write(`bench: running ${suite}…\n`);
    const module = (await import(file.href)) as { default: BenchSuite };
    for (const row of await module.default()) rows.push({ suite, ...row });
  }
  process.stdout.write(`${format(rows)}\n\n${JSON.stringify({ measuredAt: new Date().toISOString(), rows }, null, 2)}\n`);
}

await main();
