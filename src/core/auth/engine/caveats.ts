import { canonicalJson } from '../jcs.js';
import type { Caveat } from '../types.js';

/**
 * A service-specific caveat rule (e.g. SQL constrained statements): when `applies` to the parent's caveats, it
 * alone decides whether the child's caveats stay within them.
 */
export interface CaveatRule {
  readonly name: string;
  applies(parent: readonly Caveat[]): boolean;
  contains(parent: readonly Caveat[], child: readonly Caveat[]): boolean;
}

/** Services add their rules here at start-up (the SQL service registers constrained statements). */
export const CAVEAT_RULES: CaveatRule[] = [];

const sameJson = (a: readonly Caveat[], b: readonly Caveat[]): boolean =>
  a.length === b.length && a.every((c, i) => canonicalJson(c) === canonicalJson(b[i]));

/**
 * Caveat containment (WIRE §2.9): an unconstrained parent allows anything; a registered rule decides for its own
 * caveats; otherwise the child must carry exactly the parent's caveats.
 */
export function caveatsContained(parent: readonly Caveat[], child: readonly Caveat[]): boolean {
  if (parent.length === 0) return true;
  const rule = CAVEAT_RULES.find((r) => r.applies(parent));
  if (rule) return rule.contains(parent, child);
  return sameJson(parent, child);
}
