/** Transfers smaller than this finish before a bar would be readable. */
export const PROGRESS_THRESHOLD = 1024 * 1024;

export interface Progress {
  /** Count transferred bytes. */
  add(bytes: number): void;
  /** Draw the final state and release the terminal. */
  finish(): void;
}

const NO_PROGRESS: Progress = { add: () => {}, finish: () => {} };

/**
 * A progress bar on stderr, drawn with ink only when stderr is a terminal and the transfer is large or of unknown
 * size; otherwise nothing is drawn. ink is loaded only then: it costs about a second of start-up.
 */
export async function startProgress(label: string, total: number | undefined, enabled: boolean): Promise<Progress> {
  if (!enabled || !process.stderr.isTTY || (total !== undefined && total < PROGRESS_THRESHOLD)) return NO_PROGRESS;
  const { renderProgressBar } = await import('./progress-bar.js');
  return renderProgressBar(label, total);
}
