import { blake3Sync } from '../ids/blake3.js';
import { cidOfDigest, RAW_CODEC, type CID } from '../ids/cid.js';
import { err, ok, type Result } from '../result.js';
import { decodeBase64UrlPaddedOrNot } from './base64url.js';
import { decodeCacao, siweFieldsOfCacao } from './cacao.js';
import { principalOf } from './did.js';
import { mapLegacyCapability, mapLegacyDidUrl } from './legacy.js';
import { extractRecap, statementMatchesRecap } from './recap.js';
import { parseResource } from './resource.js';
import { renderSiweMessage, verifyEip191 } from './siwe.js';
import type {
  CacaoEnvelope,
  Capability,
  DecodeOptions,
  DelegationInfo,
  Dialect,
  EnvelopeKind,
  SignedEnvelope,
  UcanEnvelope,
} from './types.js';
import { capabilitiesOfAttenuations, decodeUcan, resolveUcanKey, verifyUcanSignature, type RawCapability } from './ucan.js';

export const DEFAULT_MAX_HEADER_LENGTH = 256 * 1024;

/** The fact that makes a UCAN delegation non-redelegable. */
export const TERMINAL_FACT_KEY = 'xyz.tinycloud.policy/delegationMode';

/** WIRE §2.1: a `.` means a compact JWS UCAN; anything else is base64url DAG-CBOR CACAO. */
export const detectEnvelopeKind = (header: string): EnvelopeKind => (header.includes('.') ? 'ucan' : 'cacao');

interface MappedCapabilities {
  readonly capabilities: Capability[];
  readonly changed: boolean;
}

function toCapabilities(raw: readonly RawCapability[], legacy: boolean): Result<MappedCapabilities> {
  const capabilities: Capability[] = [];
  let changed = false;
  for (const cap of raw) {
    const mapped = legacy ? mapLegacyCapability(cap.resource, cap.ability) : cap;
    changed ||= mapped.resource !== cap.resource || mapped.ability !== cap.ability;
    const target = parseResource(mapped.resource);
    // A well-formed token naming an impossible resource (`..` segments, a bad space id) is a bad request,
    // not an authentication failure: the client learns which resource to fix (400, as for bad KV keys).
    if (!target.ok) return target;
    capabilities.push({ resource: target.value.uri, target: target.value, ability: mapped.ability, caveats: cap.caveats });
  }
  return ok({ capabilities, changed });
}

/** CIDv1 raw over the exact received bytes (WIRE §2.1). */
const cidOfReceived = (bytes: Uint8Array): CID => cidOfDigest(blake3Sync(bytes), RAW_CODEC);

/**
 * Decode CACAO bytes into an envelope: recap extracted (last resource only), statement rule checked, capabilities
 * parsed. SIWE delegations carry no caveats: only `[{}]` (or null-valued maps) are accepted.
 */
export async function decodeCacaoEnvelope(bytes: Uint8Array, options: DecodeOptions = {}): Promise<Result<CacaoEnvelope>> {
  const legacy = options.legacy === true;
  const decoded = decodeCacao(bytes, { legacy });
  if (!decoded.ok) return decoded;
  const { payload, account, signature } = decoded.value;
  const recap = extractRecap(payload.resources);
  if (!recap.ok) return recap;
  const raw: RawCapability[] = [];
  if (recap.value) {
    if (!statementMatchesRecap(payload.statement, recap.value.att)) {
      return err('AUTH_INVALID_RECAP', 'the SIWE statement does not end with the text the recap generates');
    }
    for (const cap of capabilitiesOfAttenuations(recap.value.att)) {
      if (!cap.caveats.every((c) => Object.values(c).every((v) => v === null))) {
        return err('AUTH_INVALID_RECAP', 'SIWE delegations cannot carry caveats');
      }
      raw.push({ ...cap, caveats: [] });
    }
  }
  const mapped = toCapabilities(raw, legacy);
  if (!mapped.ok) return mapped;
  const audience = legacy ? mapLegacyDidUrl(payload.aud) : payload.aud;
  const siweMessage = renderSiweMessage(siweFieldsOfCacao(payload, account));
  const proofs = recap.value?.proofs ?? [];
  const info: DelegationInfo = {
    issuer: payload.iss,
    delegator: principalOf(payload.iss),
    audience,
    delegatee: principalOf(audience),
    capabilities: mapped.value.capabilities,
    parentCids: proofs,
    parents: proofs.map((c) => c.multihash.bytes),
    ...(decoded.value.exp !== undefined && { expiry: decoded.value.exp }),
    ...(decoded.value.nbf !== undefined && { notBefore: decoded.value.nbf }),
    issuedAt: decoded.value.iat,
    nonce: payload.nonce,
    facts: [],
    terminal: false,
  };
  const dialect: Dialect = decoded.value.legacyEncoding || mapped.value.changed || audience !== payload.aud ? 'legacy' : 'protocol1';
  const cid = cidOfReceived(bytes);
  let signedDigest: Uint8Array | undefined;
  return ok({
    kind: 'cacao',
    dialect,
    bytes,
    cid,
    multihash: cid.multihash.bytes,
    // Only delegations are keyed by it: computed on first read.
    get signedDigest() {
      return (signedDigest ??= blake3Sync(Buffer.from(siweMessage, 'utf8')));
    },
    info,
    siweMessage,
    signature,
    address: account.address,
  });
}

/** Decode a compact JWS UCAN into an envelope; the issuer's key is resolved but nothing is verified yet. */
export async function decodeUcanEnvelope(token: string, options: DecodeOptions = {}): Promise<Result<UcanEnvelope>> {
  const legacy = options.legacy === true;
  const decoded = decodeUcan(token, { legacy });
  if (!decoded.ok) return decoded;
  const ucan = decoded.value;
  const issuer = legacy ? mapLegacyDidUrl(ucan.iss) : ucan.iss;
  const audience = legacy ? mapLegacyDidUrl(ucan.aud) : ucan.aud;
  const key = resolveUcanKey(ucan, issuer);
  if (!key.ok) return key;
  const mapped = toCapabilities(ucan.capabilities, legacy);
  if (!mapped.ok) return mapped;
  const info: DelegationInfo = {
    issuer,
    delegator: principalOf(issuer),
    audience,
    delegatee: principalOf(audience),
    capabilities: mapped.value.capabilities,
    parentCids: ucan.proofs,
    parents: ucan.proofs.map((c) => c.multihash.bytes),
    expiry: ucan.exp,
    ...(ucan.nbf !== undefined && { notBefore: ucan.nbf }),
    ...(ucan.nonce !== undefined && { nonce: ucan.nonce }),
    facts: ucan.facts,
    terminal: ucan.facts.some((f) => f[TERMINAL_FACT_KEY] === 'terminal'),
  };
  const isLegacy =
    ucan.ucv !== '0.10.0' || ucan.arrayAtt || mapped.value.changed || issuer !== ucan.iss || audience !== ucan.aud;
  const bytes = Buffer.from(token, 'utf8');
  const cid = cidOfReceived(bytes);
  let signedDigest: Uint8Array | undefined;
  return ok({
    kind: 'ucan',
    dialect: isLegacy ? 'legacy' : 'protocol1',
    bytes,
    cid,
    multihash: cid.multihash.bytes,
    // Only delegations are keyed by it: an invocation, which never reads it, pays for one hash instead of two.
    get signedDigest() {
      return (signedDigest ??= blake3Sync(ucan.signingInput));
    },
    info,
    token,
    ucv: ucan.ucv,
    alg: ucan.alg,
    signingInput: ucan.signingInput,
    signature: ucan.signature,
    key: key.value,
  });
}

/**
 * Decode the raw `Authorization` header (no `Bearer ` prefix is stripped; WIRE §2.1). CACAO base64url may be
 * padded or not; the serialized bytes are the CBOR for a CACAO and the whole header for a UCAN.
 */
export async function decodeAuthorization(header: string, options: DecodeOptions = {}): Promise<Result<SignedEnvelope>> {
  if (header.length === 0) return err('AUTH_MISSING', 'Missing Authorization header');
  if (header.length > (options.maxHeaderLength ?? DEFAULT_MAX_HEADER_LENGTH)) {
    return err('AUTH_MALFORMED', 'Authorization header too long');
  }
  if (detectEnvelopeKind(header) === 'ucan') return decodeUcanEnvelope(header, options);
  const bytes = decodeBase64UrlPaddedOrNot(header);
  if (!bytes) return err('AUTH_MALFORMED', 'Authorization is neither a UCAN nor base64url CACAO');
  return decodeCacaoEnvelope(bytes, options);
}

/**
 * The time window of one envelope at `now` (epoch seconds, fractional). CACAO (WIRE §2.2): valid when
 * `nbf < now` and `now ≤ exp`. UCAN (§2.5): expired when `now > exp`, early when `now < nbf`.
 */
export function checkTimeWindow(env: SignedEnvelope, now: number): Result<void> {
  const { expiry, notBefore } = env.info;
  if (expiry !== undefined && now > expiry) return err('AUTH_EXPIRED', 'Expired');
  const early = notBefore !== undefined && (env.kind === 'cacao' ? !(notBefore < now) : now < notBefore);
  if (early) return err('AUTH_NOT_YET_VALID', 'Not yet valid');
  return ok(undefined);
}

/**
 * Verify an envelope's time window, then its signature: EIP-191 over the rendered SIWE text for a CACAO, the
 * issuer's key over the received `header.payload` for a UCAN.
 */
export function verifyEnvelope(env: SignedEnvelope, now: number): Result<SignedEnvelope> {
  const window = checkTimeWindow(env, now);
  if (!window.ok) return window;
  const valid =
    env.kind === 'cacao'
      ? verifyEip191(env.siweMessage, env.signature, env.address)
      : verifyUcanSignature({ alg: env.alg, signature: env.signature, signingInput: env.signingInput }, env.key);
  return valid ? ok(env) : err('AUTH_BAD_SIGNATURE', 'Failed to verify signature');
}
