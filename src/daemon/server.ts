import Fastify, { type FastifyInstance } from 'fastify';
import { TinyCloudError } from '../core/errors.js';
import type { TinyCloudNode } from '../core/node.js';
import { registerCors } from './cors.js';
import { answerClientError, handleError } from './errors.js';
import { registerAuthVerifyRoute } from './routes/auth-verify.js';
import { ROUTES } from './routes/index.js';
import { closeIfBodyUnread } from './unread-body.js';

export interface ServerOptions {
  /** `false` silences request logs (tests, in-process use). */
  logger?: boolean;
  /** Also mount the reference's `tc-bench-v1` routes (`POST /auth/verify`); never on by configuration. */
  bench?: boolean;
  /** A connection that sends nothing for this long is closed (default 120 s). */
  idleTimeoutMs?: number;
}

/**
 * Builds the HTTP adapter over a node. Bodies are never parsed up front: each route streams or parses its
 * own body, so a 1 GiB put never sits in memory and a JSON route can cap what it reads.
 */
export function buildServer(node: TinyCloudNode, options: ServerOptions = {}): FastifyInstance {
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : { level: node.config.logLevel, redact: ['req.headers.authorization', 'req.headers.Authorization'] },
    // The SDK signs every request afresh; a big header is an attack, and Node answers 431 on its own.
    routerOptions: { maxParamLength: 8192 },
    forceCloseConnections: 'idle',
    // A client that stops sending mid-body would otherwise hold its socket forever; slow but steady uploads
    // (a 2 GiB put on a thin link) keep resetting this inactivity clock and are never cut.
    connectionTimeout: options.idleTimeoutMs ?? 120_000,
    return503OnClosing: true,
    // Fastify's own answers (a URL that does not decode, a parameter past maxParamLength, a request Node
    // cannot parse) are JSON by default; WIRE §0 wants plain text, as from every other error.
    frameworkErrors: handleError,
    clientErrorHandler: answerClientError,
    // Node would answer a Host-less HTTP/1.1 request with an empty 400 of its own; ours says why (hook below).
    http: { requireHostHeader: false },
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
  app.addHook('onRequest', async (request) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      throw new TinyCloudError('BAD_REQUEST', 'Missing Host header: every HTTP/1.1 request carries one (RFC 9112 §3.2)');
    }
  });
  if (node.config.cors) registerCors(app);
  app.setErrorHandler(handleError);
  app.addHook('onSend', async (request, reply, payload) => {
    closeIfBodyUnread(request, reply);
    return payload;
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).type('text/plain; charset=utf-8').send(`No route for ${request.method} ${request.url.split('?')[0]}`);
  });
  for (const register of ROUTES) register(app, node);
  if (options.bench) registerAuthVerifyRoute(app, node);
  return app;
}
