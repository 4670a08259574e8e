import { base58btc } from 'multiformats/bases/base58';
import { CID } from '../ids/cid.js';
import { err, ok, type Result } from '../result.js';
import { isValidAbility } from './abilities.js';
import { decodeBase64UrlStrict, encodeBase64Url } from './base64url.js';
import { canonicalJson } from './jcs.js';
import type { Caveat } from './types.js';
import { isUri } from './uri.js';

export const RECAP_PREFIX = 'urn:recap:';

/** `{<resourceURI>: {<ability>: [<caveat>, …]}}`, the wire shape of ReCap `att` (and UCAN 0.10 `att`). */
export type Attenuations = Readonly<Record<string, Readonly<Record<string, readonly Caveat[]>>>>;

export interface Recap {
  readonly att: Attenuations;
  /** Parent CIDs in base58btc text (`z…`), the only base the node accepts here. */
  readonly prf: readonly string[];
}

export interface DecodedRecap extends Recap {
  readonly proofs: readonly CID[];
}

export const STATEMENT_PREAMBLE = 'I further authorize the stated URI to perform the following actions on my behalf:';

/** `urn:recap:` + unpadded base64url of the JCS form of `{att, prf}` (EIP-5573). */
export function encodeRecap(recap: Recap): string {
  const json = canonicalJson({ att: recap.att, prf: recap.prf });
  return RECAP_PREFIX + encodeBase64Url(Buffer.from(json, 'utf8'));
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Check the `att` shape: URI keys, `namespace/name` abilities, non-empty lists of caveat objects. */
export function validateAttenuations(att: unknown): Result<Attenuations> {
  if (!isPlainObject(att)) return err('AUTH_INVALID_RECAP', 'att must be an object');
  for (const [resource, abilities] of Object.entries(att)) {
    if (!isUri(resource)) return err('AUTH_INVALID_RECAP', `att resource is not a URI: ${resource}`);
    if (!isPlainObject(abilities)) return err('AUTH_INVALID_RECAP', `att[${resource}] must be an object`);
    for (const [ability, caveats] of Object.entries(abilities)) {
      if (!isValidAbility(ability)) return err('AUTH_INVALID_RECAP', `invalid ability: ${ability}`);
      if (!Array.isArray(caveats) || caveats.length === 0 || !caveats.every(isPlainObject)) {
        return err('AUTH_INVALID_RECAP', `caveats of ${ability} must be a non-empty list of objects ([{}] for none)`);
      }
    }
  }
  return ok(att as Attenuations);
}

/** Parse a base58btc (`z…`) CID, the only form a ReCap `prf` may use. */
export function parseBase58Cid(text: string): CID | undefined {
  if (!text.startsWith('z')) return undefined;
  try {
    return CID.parse(text, base58btc);
  } catch {
    return undefined;
  }
}

export function decodeRecap(uri: string): Result<DecodedRecap> {
  if (!uri.startsWith(RECAP_PREFIX)) return err('AUTH_INVALID_RECAP', 'not a urn:recap: URI');
  const bytes = decodeBase64UrlStrict(uri.slice(RECAP_PREFIX.length));
  if (!bytes) return err('AUTH_INVALID_RECAP', 'recap is not unpadded base64url');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return err('AUTH_INVALID_RECAP', 'recap is not JSON');
  }
  if (!isPlainObject(json)) return err('AUTH_INVALID_RECAP', 'recap must be a JSON object');
  const att = validateAttenuations(json.att);
  if (!att.ok) return att;
  const prf = json.prf ?? [];
  if (!Array.isArray(prf)) return err('AUTH_INVALID_RECAP', 'recap prf must be a list');
  const proofs: CID[] = [];
  for (const text of prf) {
    const cid = typeof text === 'string' ? parseBase58Cid(text) : undefined;
    if (!cid) return err('AUTH_INVALID_RECAP', `recap prf must hold base58btc CIDs: ${String(text)}`);
    proofs.push(cid);
  }
  return ok({ att: att.value, prf: prf as string[], proofs });
}

const byUtf8 = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * The text the statement must end with: the preamble, then per resource (byte order) and per ability
 * namespace (sorted) ` (n) '<namespace>': '<name>', … for '<resource>'.`
 */
export function recapStatement(att: Attenuations): string {
  let text = STATEMENT_PREAMBLE;
  let n = 0;
  for (const resource of Object.keys(att).sort(byUtf8)) {
    const byNamespace = new Map<string, string[]>();
    for (const ability of Object.keys(att[resource] ?? {})) {
      const slash = ability.indexOf('/');
      const namespace = ability.slice(0, slash);
      const names = byNamespace.get(namespace) ?? [];
      names.push(ability.slice(slash + 1));
      byNamespace.set(namespace, names);
    }
    for (const namespace of [...byNamespace.keys()].sort(byUtf8)) {
      const names = (byNamespace.get(namespace) as string[]).sort(byUtf8);
      text += ` (${++n}) '${namespace}': ${names.map((name) => `'${name}'`).join(', ')} for '${resource}'.`;
    }
  }
  return text;
}

/** A SIWE statement for `att`, after an optional custom prefix joined with one space. */
export const statementFor = (att: Attenuations, prefix?: string): string =>
  prefix ? `${prefix} ${recapStatement(att)}` : recapStatement(att);

/** The statement rule (WIRE §2.3): the statement is the generated text, or a custom prefix, a space, and it. */
export function statementMatchesRecap(statement: string | undefined, att: Attenuations): boolean {
  if (statement === undefined) return false;
  const generated = recapStatement(att);
  return statement === generated || statement.endsWith(` ${generated}`);
}

/**
 * The ReCap a SIWE message carries: its last resource when that is a `urn:recap:`, else none. A recap anywhere
 * but last is refused rather than silently ignored.
 */
export function extractRecap(resources: readonly string[] | undefined): Result<DecodedRecap | undefined> {
  if (!resources || resources.length === 0) return ok(undefined);
  const lastIndex = resources.length - 1;
  if (resources.slice(0, lastIndex).some((r) => r.startsWith(RECAP_PREFIX))) {
    return err('AUTH_INVALID_RECAP', 'the recap must be the last resource');
  }
  const last = resources[lastIndex] as string;
  return last.startsWith(RECAP_PREFIX) ? decodeRecap(last) : ok(undefined);
}
