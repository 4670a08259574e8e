import type { FastifyReply, FastifyRequest } from 'fastify';

/** How long a connection may keep sending a refused body after the answer before it is cut. */
const LINGER_MS = 2000;

/**
 * An answer given before the request body was read to its end (a 413 half way through an upload, a 401
 * before a handler ever looked at the body) ends the connection: `Connection: close`, a moment for the client
 * to read the answer while Node discards what still arrives (closing at once would reset the connection under
 * it), then the socket is cut. Without this a client still uploading holds the connection, and its pool slot,
 * until the server's request timeout.
 */
export function closeIfBodyUnread(request: FastifyRequest, reply: FastifyReply): void {
  if (request.raw.complete) return;
  void reply.header('connection', 'close');
  reply.raw.once('finish', () => {
    const socket = request.raw.socket;
    if (request.raw.complete || socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
