import { PassThrough } from 'node:stream';
import { Box, render, Text } from 'ink';
import { formatBytes } from './format.js';

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
  const filled = fraction === undefined ? 0 : Math.round(fraction * WIDTH);
  return (
    <Box gap={1}>
      <Text>{label}</Text>
      {fraction !== undefined && (
        <Text>
          <Text color="green">{'█'.repeat(filled)}</Text>
          <Text dimColor>{'░'.repeat(WIDTH - filled)}</Text>
        </Text>
      )}
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
  const view = () => <Line label={label} {...state} elapsed={(Date.now() - started) / 1000} />;
  const instance = render(view(), {
    stdout: process.stderr,
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    patchConsole: false,
    exitOnCtrlC: false,
    maxFps: 10,
  });
  const timer = setInterval(() => instance.rerender(view()), 100);
  timer.unref();
  let finished = false;
  return {
    update: (next) => {
      state = { ...state, ...next };
    },
    finish: () => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      instance.rerender(view());
      instance.unmount();
    },
  };
}
