import { decode as decodeDagCbor } from '@ipld/dag-cbor';
import { err, ok, type Result } from '../result.js';
import { parseDidPkh, type PkhAccount } from './did.js';
import { cborMap, encodeCbor } from './cbor-writer.js';
import type { SiweFields } from './siwe.js';
import { parseRfc3339 } from './time.js';
import { isAuthority, isUri, URI_RULES } from './uri.js';

/** A CACAO payload (WIRE §2.4). Timestamps are the RFC 3339 text as signed. */
export interface CacaoPayload {
  readonly domain: string;
  readonly iss: string;
  readonly statement?: string;
  readonly aud: string;
  readonly nonce: string;
  readonly iat: string;
  readonly exp?: string;
  readonly nbf?: string;
  readonly requestId?: string;
  readonly resources?: readonly string[];
  readonly scheme?: string;
}

export interface DecodedCacao {
  readonly payload: CacaoPayload;
  /** 65 bytes `r‖s‖v`. */
  readonly signature: Uint8Array;
  readonly account: PkhAccount;
  readonly iat: number;
  readonly exp?: number;
  readonly nbf?: number;
  /** `version` was the string "1" or `s.s` an integer array: the 0.2.1 client's encoding (WIRE §14). */
  readonly legacyEncoding: boolean;
}

export interface CacaoDecodeOptions {
  /** Accept the 0.2.1 encodings (string version, integer-array signature). */
  readonly legacy?: boolean;
}

const PAYLOAD_KEYS = new Set([
  'domain', 'iss', 'statement', 'aud', 'version', 'nonce', 'iat', 'exp', 'nbf', 'request_id', 'resources', 'scheme',
]);
// EIP-4361: at least 8 alphanumeric characters.
const NONCE = /^[A-Za-z0-9]{8,}$/;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

const malformed = (why: string) => err('AUTH_MALFORMED', `invalid CACAO: ${why}`);

function onlyKeys(obj: Record<string, unknown>, allowed: ReadonlySet<string>, where: string): string | undefined {
  const extra = Object.keys(obj).find((k) => !allowed.has(k));
  return extra === undefined ? undefined : `unexpected key ${where}.${extra}`;
}

function optionalString(obj: Record<string, unknown>, key: string): string | undefined | null {
  const v = obj[key];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : null;
}

/**
 * Decode DAG-CBOR CACAO bytes in any key order, without re-encoding: the caller keeps `bytes` as the one
 * serialization. Fields that would change the shape of the signed SIWE text (line breaks, bad URIs) are refused.
 */
export function decodeCacao(bytes: Uint8Array, options: CacaoDecodeOptions = {}): Result<DecodedCacao> {
  let root: unknown;
  try {
    root = decodeDagCbor(bytes);
  } catch (e) {
    return malformed(`not DAG-CBOR (${(e as Error).message})`);
  }
  if (!isObject(root)) return malformed('not a map');
  const extra = onlyKeys(root, new Set(['h', 'p', 's']), 'cacao');
  if (extra) return malformed(extra);
  const { h, p, s } = root;
  if (!isObject(h) || h.t !== 'eip4361' || Object.keys(h).length !== 1) return malformed('h must be {t: "eip4361"}');
  if (!isObject(s) || s.t !== 'eip191') return malformed('s.t must be "eip191"');
  const extraSig = onlyKeys(s, new Set(['t', 's']), 's');
  if (extraSig) return malformed(extraSig);
  let legacyEncoding = false;
  let signature: Uint8Array;
  if (s.s instanceof Uint8Array) {
    signature = s.s;
  } else if (options.legacy && Array.isArray(s.s) && s.s.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    signature = Uint8Array.from(s.s as number[]);
    legacyEncoding = true;
  } else {
    return malformed('s.s must be a byte string');
  }
  if (signature.length !== 65) return malformed('signature must be 65 bytes');

  if (!isObject(p)) return malformed('p must be a map');
  const extraPayload = onlyKeys(p, PAYLOAD_KEYS, 'p');
  if (extraPayload) return malformed(extraPayload);
  if (p.version === '1' && options.legacy) legacyEncoding = true;
  else if (p.version !== 1) return malformed('version must be the integer 1');

  const domain = optionalString(p, 'domain');
  const iss = optionalString(p, 'iss');
  const aud = optionalString(p, 'aud');
  const nonce = optionalString(p, 'nonce');
  const iatText = optionalString(p, 'iat');
  const expText = optionalString(p, 'exp');
  const nbfText = optionalString(p, 'nbf');
  const statement = optionalString(p, 'statement');
  const requestId = optionalString(p, 'request_id');
  const scheme = optionalString(p, 'scheme');
  if (!domain || !isAuthority(domain)) return malformed('domain must be an RFC 3986 authority');
  if (!iss) return malformed('iss missing');
  const account = parseDidPkh(iss);
  if (!account.ok) return malformed(account.error.message);
  if (!aud || !isUri(aud)) return malformed('aud must be a URI');
  if (!nonce || !NONCE.test(nonce)) return malformed('nonce must be at least 8 alphanumeric characters');
  if (statement === null || (statement !== undefined && /[\r\n]/.test(statement))) {
    return malformed('statement must be one line of text');
  }
  if (requestId === null || (requestId !== undefined && /[\x00-\x20\x7f]/.test(requestId))) {
    return malformed('request_id must be visible ASCII');
  }
  if (scheme === null || (scheme !== undefined && !URI_RULES.scheme.test(scheme))) return malformed('bad scheme');
  if (!iatText || expText === null || nbfText === null) return malformed('iat, exp and nbf must be strings');
  const iat = parseRfc3339(iatText);
  const exp = expText === undefined ? undefined : parseRfc3339(expText);
  const nbf = nbfText === undefined ? undefined : parseRfc3339(nbfText);
  if (iat === undefined) return malformed('iat is not RFC 3339');
  if (expText !== undefined && exp === undefined) return malformed('exp is not RFC 3339');
  if (nbfText !== undefined && nbf === undefined) return malformed('nbf is not RFC 3339');
  let resources: string[] | undefined;
  if (p.resources !== undefined) {
    if (!Array.isArray(p.resources) || !p.resources.every((r) => typeof r === 'string' && isUri(r))) {
      return malformed('resources must be a list of URIs');
    }
    resources = p.resources as string[];
  }

  const payload: CacaoPayload = {
    domain, iss, aud, nonce, iat: iatText,
    ...(statement !== undefined && { statement }),
    ...(expText !== undefined && { exp: expText }),
    ...(nbfText !== undefined && { nbf: nbfText }),
    ...(requestId !== undefined && { requestId }),
    ...(resources !== undefined && { resources }),
    ...(scheme !== undefined && { scheme }),
  };
  return ok({ payload, signature, account: account.value, iat, exp, nbf, legacyEncoding });
}

/** The SIWE message a CACAO payload stands for: address and chain from `iss`, `uri` = `aud`. */
export function siweFieldsOfCacao(payload: CacaoPayload, account: PkhAccount): SiweFields {
  return {
    scheme: payload.scheme,
    domain: payload.domain,
    address: account.address,
    statement: payload.statement,
    uri: payload.aud,
    version: '1',
    chainId: account.chainId,
    nonce: payload.nonce,
    issuedAt: payload.iat,
    expirationTime: payload.exp,
    notBefore: payload.nbf,
    requestId: payload.requestId,
    resources: payload.resources,
  };
}

/** The CACAO payload for a SIWE message (`iss` = did:pkh of the address, `aud` = the URI). */
export function cacaoPayloadOfSiwe(fields: SiweFields): CacaoPayload {
  const account = parseDidPkh(`did:pkh:eip155:${fields.chainId}:${fields.address}`);
  if (!account.ok) throw account.error;
  return {
    domain: fields.domain,
    iss: account.value.did,
    aud: fields.uri,
    nonce: fields.nonce,
    iat: fields.issuedAt,
    ...(fields.statement !== undefined && { statement: fields.statement }),
    ...(fields.expirationTime !== undefined && { exp: fields.expirationTime }),
    ...(fields.notBefore !== undefined && { nbf: fields.notBefore }),
    ...(fields.requestId !== undefined && { requestId: fields.requestId }),
    ...(fields.resources !== undefined && fields.resources.length > 0 && { resources: fields.resources }),
    ...(fields.scheme !== undefined && { scheme: fields.scheme }),
  };
}

/**
 * DAG-CBOR bytes of a CACAO in the current Rust SDK's field order (h, p, s; domain, iss, statement, aud,
 * version, nonce, iat, exp, nbf, request_id, resources), for our own client and tests. The node never calls it
 * on received envelopes.
 */
export function encodeCacao(payload: CacaoPayload, signature: Uint8Array): Uint8Array {
  if (signature.length !== 65) throw new RangeError('a CACAO signature is 65 bytes');
  const resources = payload.resources && payload.resources.length > 0 ? payload.resources : undefined;
  return encodeCbor(
    cborMap([
      ['h', cborMap([['t', 'eip4361']])],
      [
        'p',
        cborMap([
          ['domain', payload.domain],
          ['iss', payload.iss],
          ['statement', payload.statement],
          ['aud', payload.aud],
          ['version', 1],
          ['nonce', payload.nonce],
          ['iat', payload.iat],
          ['exp', payload.exp],
          ['nbf', payload.nbf],
          ['request_id', payload.requestId],
          ['resources', resources],
          ['scheme', payload.scheme],
        ]),
      ],
      ['s', cborMap([['s', signature], ['t', 'eip191']])],
    ]),
  );
}
