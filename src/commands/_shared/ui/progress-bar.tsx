import { PassThrough } from 'node:stream';
import { Box, render, Text } from 'ink';
import { formatBytes, formatDuration } from './format.js';

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
  const filled = fraction === undefined ? 0 : Math.round(fraction * WIDTH);
  const eta = fraction !== undefined && rate > 0 && total ? (total - done) / rate : undefined;
  return (
    <Box gap={1}>
      <Text>{label}</Text>
      {fraction !== undefined && (
        <Text>
          <Text color="green">{'█'.repeat(filled)}</Text>
          <Text dimColor>{'░'.repeat(WIDTH - filled)}</Text>
        </Text>
      )}
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
  const stderr = process.stderr;
  let done = 0;
  const started = Date.now();
  const view = () => <Bar label={label} done={done} total={total} elapsed={(Date.now() - started) / 1000} />;
  // A private stdin: ink must never touch the real one, which may be the data being uploaded.
  const instance = render(view(), {
    stdout: stderr,
    stdin: new PassThrough() as unknown as NodeJS.ReadStream,
    patchConsole: false,
    exitOnCtrlC: false,
    maxFps: 10,
  });
  const timer = setInterval(() => instance.rerender(view()), 100);
  timer.unref();
  let finished = false;
  return {
    add: (bytes) => {
      done += bytes;
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
