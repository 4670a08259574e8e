import type { FastifyReply } from 'fastify';
import { decodeAuthorization } from '../core/auth/envelope.js';
import { mapLegacyResource, toLegacyCapability } from '../core/auth/legacy.js';
import { parseSpaceId } from '../core/auth/resource.js';
import type { DelegateOutcome, DelegationRecord } from '../core/auth/engine/types.js';
import type { SignedEnvelope } from '../core/auth/types.js';
import { TinyCloudError } from '../core/errors.js';
import type { Result } from '../core/result.js';

/**
 * The 0.2.1 "orbit" dialect at the edge (WIRE §14). Envelopes are decoded with the legacy mapping on, so the
 * engine only ever sees protocol 1; this module holds the few places where the old client expects a different
 * answer. Everything else (resources, abilities, `orbit/host`, UCAN 0.9, CACAO encodings) is mapped by
 * `core/auth/legacy.ts` while decoding.
 */

/** Decode an `Authorization` value in either dialect; `dialect` on the result says which one it was. */
export const decodeEitherDialect = (header: string): Promise<Result<SignedEnvelope>> =>
  decodeAuthorization(header, { legacy: true });

export const isLegacy = (envelope: SignedEnvelope): boolean => envelope.dialect === 'legacy';

/** A space id from a URL, in protocol-1 or orbit form (`tinycloud:pkh:…://default`), canonical. */
export function spaceIdAtEdge(text: string): string {
  const parsed = parseSpaceId(mapLegacyResource(text));
  if (!parsed.ok) throw new TinyCloudError('INVALID_SPACE_ID', 'Invalid space ID');
  return parsed.value.text;
}

/**
 * The old client learns that a space is not hosted only from a 404 on `/delegate` (then runs the host flow and
 * posts the session again); on success it reads nothing. The delegation is stored either way, and the re-post
 * after hosting activates it in the new space.
 */
export function replyLegacyDelegate(reply: FastifyReply, outcome: DelegateOutcome): FastifyReply {
  if (outcome.skipped.length > 0) return reply.code(404).type('text/plain; charset=utf-8').send('Space not found');
  return reply.code(200).type('text/plain; charset=utf-8').send('');
}

/**
 * `capabilities/read` as the old client types it (`sessions()`: `{[cid]: {capabilities: [{resource, action}],
 * delegator, delegate, parents, raw}}`): each capability in the orbit form the old node reported.
 */
export function legacyCapabilitiesView(
  records: Record<string, DelegationRecord> | DelegationRecord[],
): Record<string, LegacyDelegationRecord> | LegacyDelegationRecord[] {
  const view = (r: DelegationRecord): LegacyDelegationRecord => ({
    ...r,
    capabilities: r.capabilities.map((c) => toLegacyCapability(c.resource, c.ability)),
  });
  if (Array.isArray(records)) return records.map(view);
  return Object.fromEntries(Object.entries(records).map(([cid, r]) => [cid, view(r)]));
}

export interface LegacyDelegationRecord extends Omit<DelegationRecord, 'capabilities'> {
  readonly capabilities: { resource: string; action: string }[];
}
