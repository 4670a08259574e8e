import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isTinyCloudError } from '../core/errors.js';

/**
 * The one place domain errors become HTTP: status from the registry, a plain-text body (WIRE §0).
 * Internal failures are logged in full but answered with a generic 500 that echoes nothing.
 */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (isTinyCloudError(error)) {
    if (error.status >= 500) request.log.error({ err: error }, 'request failed');
    const headers = (error.details?.headers ?? {}) as Record<string, string>;
    // A 500's message is for the operator (paths, digests, a failed rollback); 501 and 503 speak to the client.
    const message = error.status === 500 ? 'Internal Server Error' : error.message;
    void reply.code(error.status).headers(headers).type('text/plain; charset=utf-8').send(message);
    return;
  }
  const status = (error as FastifyError).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    void reply.code(status).type('text/plain; charset=utf-8').send(error.message);
    return;
  }
  request.log.error({ err: error }, 'unexpected error');
  void reply.code(500).type('text/plain; charset=utf-8').send('Internal Server Error');
}

/**
 * A request Node's parser refused before Fastify saw it (bad request line, bad header bytes, headers too
 * large, a request that took too long): a plain-text answer, then the connection is closed.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'Request headers too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'Request timed out']
        : [400, 'Bad Request', 'Malformed HTTP request'];
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${message.length}\r\nConnection: close\r\n\r\n${message}`,
    );
  }
  socket.destroy();
}
