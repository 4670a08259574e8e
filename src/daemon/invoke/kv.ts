import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KvResponse } from '../../core/services/kv/index.js';
import { KvService } from '../../core/services/kv/index.js';
import type { InvokeHandler } from './dispatch.js';

/** Send a service's HTTP-shaped answer; a Readable body streams straight from the block store. */
export function sendKvResponse(reply: FastifyReply, response: KvResponse): FastifyReply {
  void reply.code(response.status).headers(response.headers);
  return response.body === undefined ? reply.send() : reply.send(response.body);
}

/** How long a connection may keep sending a refused body after the answer before it is cut. */
const LINGER_MS = 2000;

/**
 * A failed write may leave part of a large body unread (a 413 half way through an upload): answer with
 * `Connection: close`, let Node discard what still arrives for a moment so the client can read the answer
 * (closing at once would reset the connection under it), then cut the connection.
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

/** `tinycloud.kv/*` over `/invoke` (WIRE §4); the body is the raw request stream, never buffered. */
export const kvHandler: InvokeHandler = {
  name: 'kv',
  matches: (invocation) => KvService.handles(invocation.envelope),
  handle: async ({ node, invocation, request, reply }) => {
    try {
      const response = await node.kv.invoke(invocation.envelope, { headers: request.headers, body: request.raw });
      closeIfBodyUnread(request, reply);
      return sendKvResponse(reply, response);
    } catch (error) {
      closeIfBodyUnread(request, reply);
      throw error;
    }
  },
};
