export interface CarProgressView {
  update(state: { bytes: number; blocks?: number; total?: number }): void;
  finish(): void;
}

const NONE: CarProgressView = { update: () => {}, finish: () => {} };

/**
 * Bytes, blocks and rate of a CAR going by, on stderr when it is a terminal (stdout may be the CAR itself). ink is
 * loaded only then: it costs about a second of start-up.
 */
export async function startCarProgress(label: string, enabled: boolean): Promise<CarProgressView> {
  if (!enabled || !process.stderr.isTTY) return NONE;
  const { renderCarProgress } = await import('./car-progress-line.js');
  return renderCarProgress(label);
}
