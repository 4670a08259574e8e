import type { FastifyInstance } from 'fastify';
import type { TinyCloudNode } from '../../core/node.js';
import { registerAdminRoutes } from './admin.js';
import { registerAttestationRoute } from './attestation.js';
import { registerDelegateRoute } from './delegate.js';
import { registerDelegationStatusRoute } from './delegation-status.js';
import { registerHealthzRoute } from './healthz.js';
import { registerInfoRoute } from './info.js';
import { registerOptionsRoute } from './options.js';
import { registerInvokeRoute } from './invoke.js';
import { registerPeerGenerateRoute } from './peer-generate.js';
import { registerRevokeRoute } from './revoke.js';
import { registerSignedKvRoutes } from './signed-kv.js';

export type RouteRegistration = (app: FastifyInstance, node: TinyCloudNode) => void;

/** Every route the daemon serves, one module each. */
export const ROUTES: RouteRegistration[] = [
  registerOptionsRoute,
  registerHealthzRoute,
  registerInfoRoute,
  registerPeerGenerateRoute,
  registerDelegateRoute,
  registerInvokeRoute,
  registerRevokeRoute,
  registerDelegationStatusRoute,
  registerAttestationRoute,
  registerSignedKvRoutes,
  registerAdminRoutes,
];
