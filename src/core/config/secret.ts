import { inspect } from 'node:util';

/** Holds secret bytes; prints as `[redacted]` in logs, JSON and inspection so it cannot leak by accident. */
export class Secret {
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  reveal(): Uint8Array {
    return this.#bytes;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}
