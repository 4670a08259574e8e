import { Box, Text } from 'ink';
import { formatBytes, formatDuration } from './format.js';
import { BarCells, renderLiveLine } from './ink-line.js';

import type { Progress } from './progress.js';

interface BarProps {
  readonly label: string;
  readonly done: number;
  readonly total?: number;
  readonly elapsed: number;
}

const WIDTH = 30;

function Bar({ label, done, total, elapsed }: BarProps) {
  const rate = elapsed > 0 ? done / elapsed : 0;
  const fraction = total ? Math.min(1, done / total) : undefined;
  const eta = fraction !== undefined && rate > 0 && total ? (total - done) / rate : undefined;
  return (
    <Box gap={1}>
      <Text>{label}</Text>
      {fraction !== undefined && <BarCells fraction={fraction} width={WIDTH} />}
      {fraction !== undefined && <Text>{`${Math.floor(fraction * 100)}%`.padStart(4)}</Text>}
      <Text>
        {formatBytes(done)}
        {total ? ` / ${formatBytes(total)}` : ''}
      </Text>
      <Text dimColor>{`${formatBytes(rate)}/s`}</Text>
      {eta !== undefined && done < (total ?? 0) && <Text dimColor>{`eta ${formatDuration(eta)}`}</Text>}
    </Box>
  );
}

/** An ink progress bar on stderr (stdout may carry the data itself). */
export function renderProgressBar(label: string, total: number | undefined): Progress {
  let done = 0;
  const started = Date.now();
  const line = renderLiveLine(() => <Bar label={label} done={done} total={total} elapsed={(Date.now() - started) / 1000} />);
  return {
    add: (bytes) => {
      done += bytes;
    },
    finish: line.finish,
  };
}
