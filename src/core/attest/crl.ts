import { verify } from 'node:crypto';
import type { Cert } from './certs.js';
import { bitStringBytes, children, decodeOid, decodeTime, DerError, integerHex, parseDer, TAG } from './der.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/** The parts of an X.509 v2 CRL (RFC 5280 §5.1) that revocation checking needs. */
export interface Crl {
  tbs: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  issuerDer: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** Revoked serial numbers, lowercase hex without leading zero bytes. */
  revoked: Set<string>;
}

export function parseCrl(der: Uint8Array): Crl {
  const [tbsNode, algNode, sigNode] = children(parseDer(der));
  if (!tbsNode || tbsNode.tag !== TAG.SEQUENCE || !sigNode) throw new DerError('not a CRL');
  const fields = children(tbsNode);
  let i = fields[0]?.tag === TAG.INTEGER ? 1 : 0; // optional version
  i++; // inner signature algorithm
  const issuer = fields[i++];
  const thisUpdate = decodeTime(fields[i++]);
  let nextUpdate: Date | null = null;
  const maybeNext = fields[i];
  if (maybeNext && (maybeNext.tag === TAG.UTC_TIME || maybeNext.tag === TAG.GENERALIZED_TIME)) {
    nextUpdate = decodeTime(maybeNext);
    i++;
  }
  const revoked = new Set<string>();
  const maybeList = fields[i];
  if (maybeList && maybeList.tag === TAG.SEQUENCE) {
    for (const entry of children(maybeList)) revoked.add(integerHex(children(entry)[0]));
  }
  return {
    tbs: tbsNode.raw,
    signatureAlgorithm: decodeOid(children(algNode)[0]),
    signature: bitStringBytes(sigNode),
    issuerDer: issuer.raw,
    thisUpdate,
    nextUpdate,
    revoked,
  };
}

export function crlSignedBy(crl: Crl, issuer: Cert): boolean {
  if (crl.signatureAlgorithm !== ECDSA_WITH_SHA256) return false;
  return verify('sha256', crl.tbs, { key: issuer.x509.publicKey, dsaEncoding: 'der' }, crl.signature);
}
