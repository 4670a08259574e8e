import { PassThrough } from 'node:stream';
import { render, Text } from 'ink';
import type { ReactElement } from 'react';

/** A bar `width` cells wide, `fraction` (0 to 1) of it filled. */
export function BarCells({ fraction, width }: { readonly fraction: number; readonly width: number }) {
  const filled = Math.round(fraction * width);
  return (
    <Text>
      <Text color="green">{'█'.repeat(filled)}</Text>
      <Text dimColor>{'░'.repeat(width - filled)}</Text>
    </Text>
  );
}

/**
 * An ink line on stderr (stdout may carry the data itself), drawn from `view` ten times a second until `finish`,
 * which draws it a last time and releases the terminal (once, however often it is called).
 */
export function renderLiveLine(view: () => ReactElement): { finish(): void } {
  // A private stdin: ink must never touch the real one, which may be the data being uploaded.
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
    finish: () => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      instance.rerender(view());
      instance.unmount();
    },
  };
}
