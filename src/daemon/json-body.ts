import type { FastifyRequest } from 'fastify';
import { TinyCloudError } from '../core/errors.js';

const DEFAULT_LIMIT = 64 * 1024;

/** `Content-Type: application/json` (any parameters): routes declared `format = "json"` match only these. */
export const isJsonRequest = (request: FastifyRequest): boolean =>
  /^application\/json\s*(?:;|$)/i.test(request.headers['content-type'] ?? '');

/** Reads and parses a small JSON body from the raw stream (no parser runs up front), capped at `limit` bytes. */
export async function readJsonBody(request: FastifyRequest, limit = DEFAULT_LIMIT): Promise<unknown> {
  // A declared length past the cap is refused before waiting for bytes that may never come.
  if (Number(request.headers['content-length']) > limit) throw new TinyCloudError('TOO_LARGE', `Body larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request.raw) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new TinyCloudError('TOO_LARGE', `Body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new TinyCloudError('BAD_REQUEST', 'Body is not JSON');
  }
}
