import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TinyCloudError } from '../../core/errors.js';
import type { TinyCloudNode } from '../../core/node.js';
import type { SpaceUsage } from '../../core/services/kv/index.js';
import { canonicalSpaceId } from '../../core/spaces.js';
import { authorizationHeader } from '../auth-guard.js';
import { readJsonBody } from '../json-body.js';

const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();

/**
 * `Authorization: Bearer $TINYCLOUD_ADMIN_SECRET`. Both sides are hashed first so the comparison is constant
 * time whatever the lengths; with no secret configured the admin surface does not exist (503).
 */
function requireAdmin(node: TinyCloudNode, request: FastifyRequest): void {
  const secret = node.config.adminSecret;
  if (!secret) throw new TinyCloudError('ADMIN_DISABLED', 'Admin routes are disabled: TINYCLOUD_ADMIN_SECRET is not set');
  const match = /^Bearer (.+)$/.exec(authorizationHeader(request) ?? '');
  const presented = match ? sha256(Buffer.from(match[1]!, 'utf8')) : Buffer.alloc(32);
  if (!match || !timingSafeEqual(presented, sha256(secret.reveal()))) {
    throw new TinyCloudError('ADMIN_UNAUTHORIZED', 'Unauthorized', { headers: { 'www-authenticate': 'Bearer' } });
  }
}

const describe = (u: SpaceUsage) => ({ space: u.space, used_bytes: u.usedBytes, limit_bytes: u.limitBytes, override: u.override });

function spaceParam(text: string): string {
  return canonicalSpaceId(text);
}

/**
 * Quota administration (WIRE §1.1, §4.2): usage of every space, and per-space overrides of `storage.limit`
 * (`{limit_bytes}`, 0 = unlimited). Every route answers JSON.
 */
export function registerAdminRoutes(app: FastifyInstance, node: TinyCloudNode): void {
  const quotas = node.kv.quotas;
  const onRequest = async (request: FastifyRequest) => requireAdmin(node, request);

  app.get('/admin/usage', { onRequest }, async () => ({ spaces: (await quotas.allUsage()).map(describe) }));
  app.get('/admin/quota', { onRequest }, async () => ({
    default_limit_bytes: node.config.storage.limit || null,
    overrides: (await quotas.allUsage()).filter((u) => u.override).map((u) => ({ space: u.space, limit_bytes: u.limitBytes ?? 0 })),
  }));
  app.get<{ Params: { space: string } }>('/admin/quota/:space', { onRequest }, async (request) =>
    describe(await quotas.usage(spaceParam(request.params.space))),
  );
  app.put<{ Params: { space: string } }>('/admin/quota/:space', { onRequest }, async (request) => {
    const space = spaceParam(request.params.space);
    const body = (await readJsonBody(request)) as { limit_bytes?: unknown } | null;
    if (typeof body?.limit_bytes !== 'number') throw new TinyCloudError('BAD_REQUEST', 'Body must be {"limit_bytes": <bytes, 0 = unlimited>}');
    await quotas.setOverride(space, body.limit_bytes);
    return describe(await quotas.usage(space));
  });
  app.delete<{ Params: { space: string } }>('/admin/quota/:space', { onRequest }, async (request) => {
    const space = spaceParam(request.params.space);
    await quotas.clearOverride(space);
    return describe(await quotas.usage(space));
  });
}
