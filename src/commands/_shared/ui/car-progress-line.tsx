import { Box, Text } from 'ink';
import { formatBytes } from './format.js';
import { BarCells, renderLiveLine } from './ink-line.js';

import type { CarProgressView } from './car-progress.js';

interface Props {
  readonly label: string;
  readonly bytes: number;
  readonly blocks?: number;
  readonly total?: number;
  readonly elapsed: number;
}

const WIDTH = 24;

function Line({ label, bytes, blocks, total, elapsed }: Props) {
  const rate = elapsed > 0 ? bytes / elapsed : 0;
  const fraction = total ? Math.min(1, bytes / total) : undefined;
  return (
    <Box gap={1}>
      <Text>{label}</Text>
      {fraction !== undefined && <BarCells fraction={fraction} width={WIDTH} />}
      <Text>{formatBytes(bytes)}</Text>
      {blocks !== undefined && <Text dimColor>{`${blocks} blocks`}</Text>}
      <Text dimColor>{`${formatBytes(rate)}/s`}</Text>
    </Box>
  );
}

/** The ink line on stderr: bytes, blocks when known, rate, and a bar when the total is known. */
export function renderCarProgress(label: string): CarProgressView {
  let state: { bytes: number; blocks?: number; total?: number } = { bytes: 0 };
  const started = Date.now();
  const line = renderLiveLine(() => <Line label={label} {...state} elapsed={(Date.now() - started) / 1000} />);
  return {
    update: (next) => {
      state = { ...state, ...next };
    },
    finish: line.finish,
  };
}
