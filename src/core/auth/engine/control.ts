import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { parseCid, type CID } from '../../ids/cid.js';
import { err, ok, type Result } from '../../result.js';
import { abilityMatches } from '../abilities.js';
import { parseResource, rootAuthorityOf } from '../resource.js';
import { idKey, inWindow, loadAbilities, loadLineages, type ChainNode } from './chain-store.js';

export const REVOKE_ABILITY = 'tinycloud.delegation/revoke';
export const STATUS_ABILITY = 'tinycloud.delegation/status';

/** `urn:cid:<cid>` → the CID, or undefined. */
export function cidOfUrn(resource: string): CID | undefined {
  return resource.startsWith('urn:cid:') ? parseCid(resource.slice('urn:cid:'.length)) : undefined;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/**
 * The account a delegation-control request speaks for (WIRE §2.10 step 3). Without a proof, the signer itself.
 * With one (exactly one): it must be stored and live, delegated to the signer, and hold `action` on
 * `urn:cid:<target>` or on `<space>/delegation` of a space its own delegator owns; the principal is then that
 * delegator (the wallet behind a session key).
 */
export async function controlPrincipal(
  db: Kysely<Database>,
  now: number,
  signer: string,
  proofs: readonly Uint8Array[],
  target: Uint8Array,
  action: string,
): Promise<Result<string>> {
  if (proofs.length === 0) return ok(signer);
  if (proofs.length !== 1) return err('REVOKE_FORBIDDEN', 'A delegation control request takes exactly one proof');
  const proofId = proofs[0] as Uint8Array;
  const lineage = (await loadLineages(db, [proofId])).get(idKey(proofId));
  if (!lineage) return err('REVOKE_FORBIDDEN', 'Cannot find parent delegation');
  const proof = lineage.parent;
  const live = !lineage.truncated && lineage.nodes.every((n) => !n.revoked && inWindow(n, now));
  if (!live) return err('REVOKE_FORBIDDEN', 'Proof delegation is not live');
  if (proof.delegatee !== signer) return err('REVOKE_FORBIDDEN', `Unauthorized Invoker: ${signer}`);
  const grants = await loadAbilities(db, [proofId]);
  const holds = grants.some((grant) => {
    if (!abilityMatches(grant.ability, action)) return false;
    const cid = cidOfUrn(grant.resource);
    if (cid) return sameBytes(cid.multihash.bytes, target);
    const parsed = parseResource(grant.resource);
    return (
      parsed.ok &&
      parsed.value.kind === 'tinycloud' &&
      parsed.value.service === 'delegation' &&
      parsed.value.path === undefined &&
      parsed.value.space.did === proof.delegator
    );
  });
  if (!holds) return err('REVOKE_FORBIDDEN', `Unauthorized Action: urn:cid / ${action}`);
  return ok(proof.delegator);
}

/** The owners of every space (or encryption network) a delegation's abilities name. */
export async function ownersOf(db: Kysely<Database>, delegation: Uint8Array): Promise<Set<string>> {
  const owners = new Set<string>();
  for (const grant of await loadAbilities(db, [delegation])) {
    const parsed = parseResource(grant.resource);
    const owner = parsed.ok ? rootAuthorityOf(parsed.value) : undefined;
    if (owner) owners.add(owner);
  }
  return owners;
}

/** Everyone with a say over `target`: its delegator and delegatee, every delegator above it, and the owners. */
export async function controllersOf(db: Kysely<Database>, target: ChainNode, ancestors: readonly ChainNode[]): Promise<Set<string>> {
  const controllers = await ownersOf(db, target.id);
  controllers.add(target.delegator);
  controllers.add(target.delegatee);
  for (const node of ancestors) controllers.add(node.delegator);
  return controllers;
}
