import { Transform, type Readable } from 'node:stream';

/** `source` passed through unchanged, calling `onBytes` per chunk; errors and early closes travel both ways. */
export function counting(source: Readable, onBytes: (bytes: number) => void): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  source.on('error', (error) => counter.destroy(error));
  counter.on('close', () => {
    if (!source.readableEnded) source.destroy();
  });
  return source.pipe(counter);
}
