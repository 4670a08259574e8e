import type { FastifyInstance } from 'fastify';
import type { Config } from '../core/config/load.js';
import { TinyCloudNode, type NodeOptions } from '../core/node.js';
import { buildServer, type ServerOptions } from './server.js';

/** How long stop() waits for in-flight requests before cutting their connections. */
const DRAIN_MS = 5000;

export interface RunningDaemon {
  node: TinyCloudNode;
  app: FastifyInstance;
  url: string;
  /** Stops accepting, drains in-flight requests (at most 5 s), then closes the node. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, options: ServerOptions & NodeOptions = {}): Promise<RunningDaemon> {
  const node = await TinyCloudNode.open(config, { clock: options.clock });
  const app = buildServer(node, options);
  try {
    await app.listen({ host: config.address, port: config.port });
  } catch (error) {
    await node.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.address.includes(':') ? `[${config.address}]` : config.address;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // close() drops the connections idle at that instant; a keep-alive connection whose response is still
      // finishing would otherwise hold the shutdown until its keep-alive timeout (72 s).
      const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
      // A client that stalls mid-upload never lets its request finish: past the drain window it is cut, or
      // one such client would hold the shutdown for as long as it likes.
      const deadline = setTimeout(() => app.server.closeAllConnections(), DRAIN_MS);
      try {
        await app.close();
      } finally {
        clearInterval(sweep);
        clearTimeout(deadline);
      }
      await node.close();
    })());
  return { node, app, url: `http://${host}:${port}`, stop };
}
