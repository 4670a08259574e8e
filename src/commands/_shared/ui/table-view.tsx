import { PassThrough } from 'node:stream';
import { Box, render, Text } from 'ink';

import type { Column } from './table.js';

function Table({ columns, rows, footer }: { columns: readonly Column[]; rows: readonly (readonly string[])[]; footer?: string }) {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number) => (columns[i]?.right ? text.padStart(widths[i] as number) : text.padEnd(widths[i] as number));
  return (
    <Box flexDirection="column">
      <Box gap={2}>
        {columns.map((c, i) => (
          <Text key={c.header} bold>
            {cell(c.header, i)}
          </Text>
        ))}
      </Box>
      {rows.map((row, r) => (
        <Box key={r} gap={2}>
          {row.map((text, i) => (
            <Text key={i} wrap="truncate-end">
              {cell(text, i)}
            </Text>
          ))}
        </Box>
      ))}
      {footer !== undefined && <Text dimColor>{footer}</Text>}
    </Box>
  );
}

/** Draw a table with ink on the terminal. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], footer?: string): void {
  const stdout = process.stdout;
  const instance = render(<Table columns={columns} rows={rows} footer={footer} />, {
    stdout,
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    patchConsole: false,
    exitOnCtrlC: false,
  });
  instance.unmount();
}
