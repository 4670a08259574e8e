export interface Column {
  readonly header: string;
  /** Right-align (numbers). */
  readonly right?: boolean;
}

/**
 * Print rows: a table drawn with ink on a terminal; tab-separated lines without a header when piped, so the
 * output stays easy to `cut` and `awk`. ink is loaded only for a terminal.
 */
export async function printTable(columns: readonly Column[], rows: readonly (readonly string[])[], footer?: string): Promise<void> {
  if (!process.stdout.isTTY) {
    for (const row of rows) process.stdout.write(`${row.join('\t')}\n`);
    return;
  }
  const { renderTable } = await import('./table-view.js');
  renderTable(columns, rows, footer);
}
