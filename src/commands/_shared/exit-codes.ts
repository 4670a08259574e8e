/** Exit codes every command shares, so scripts can tell failures apart. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  AUTH: 3,
  NOT_FOUND: 4,
  SERVER: 5,
} as const;

/** Maps an HTTP status (from a node or the engine's error registry) to the CLI's exit code. */
export function exitCodeForStatus(status: number): number {
  if (status === 401 || status === 403) return EXIT.AUTH;
  if (status === 404) return EXIT.NOT_FOUND;
  if (status >= 500) return EXIT.SERVER;
  if (status === 400) return EXIT.USAGE;
  return EXIT.FAILURE;
}
