import { X509Certificate } from 'node:crypto';
import { bytesEqual, sha256, toHex } from './bytes.js';
import { children, decodeOid, decodeTime, expectTag, integerHex, parseDer, TAG } from './der.js';
import { INTEL_SGX_ROOT_CA_DER, INTEL_SGX_ROOT_CA_SHA256 } from './intel-root.js';

/** A certificate with the fields node:crypto does not expose (raw names, extensions) read from its DER. */
export interface Cert {
  x509: X509Certificate;
  der: Uint8Array;
  sha256: string;
  serial: string;
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  commonName: string;
  notBefore: Date;
  notAfter: Date;
  extensions: Map<string, Uint8Array>;
}

export function parseCert(der: Uint8Array): Cert {
  const x509 = new X509Certificate(der);
  const tbs = children(expectTag(children(parseDer(der))[0], TAG.SEQUENCE, 'tbsCertificate'));
  const fields = tbs[0].tag === 0xa0 ? tbs.slice(1) : tbs;
  const [serial, , issuer, validity, subject] = fields;
  const [notBefore, notAfter] = children(validity);
  const extensions = new Map<string, Uint8Array>();
  const extWrapper = fields.find((f) => f.tag === 0xa3);
  if (extWrapper) {
    for (const ext of children(children(extWrapper)[0])) {
      const parts = children(ext);
      const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue').value;
      extensions.set(decodeOid(parts[0]), value);
    }
  }
  return {
    x509,
    der,
    sha256: toHex(sha256(der)),
    serial: integerHex(serial),
    issuerDer: issuer.raw,
    subjectDer: subject.raw,
    commonName: /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1] ?? x509.subject,
    notBefore: decodeTime(notBefore),
    notAfter: decodeTime(notAfter),
    extensions,
  };
}

/** Every certificate in a PEM bundle. Quote chains end with `\n\0`, so anything outside the markers is ignored. */
export function certsFromPem(pem: string | Uint8Array): Cert[] {
  const text = typeof pem === 'string' ? pem : Buffer.from(pem).toString('latin1');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => {
    const body = block.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
    return parseCert(new Uint8Array(Buffer.from(body, 'base64')));
  });
}

export const INTEL_ROOT: Cert = parseCert(INTEL_SGX_ROOT_CA_DER);
if (INTEL_ROOT.sha256 !== INTEL_SGX_ROOT_CA_SHA256) throw new Error('Intel SGX Root CA fingerprint mismatch');

export type ChainResult = { ok: true; chain: Cert[] } | { ok: false; reason: string };

/**
 * Check that each certificate is issued and signed by the next, ending at the pinned root (by DER
 * fingerprint; a chain that omits the root gets it appended). Validity dates are checked separately.
 */
export function verifyChainToRoot(certs: Cert[], root: Cert, what: string): ChainResult {
  if (certs.length === 0) return { ok: false, reason: `${what}: no certificates` };
  const chain = [...certs];
  const last = chain[chain.length - 1];
  if (last.sha256 !== root.sha256) {
    if (bytesEqual(last.subjectDer, root.subjectDer)) {
      return { ok: false, reason: `${what}: root "${last.commonName}" is not the pinned ${root.commonName}` };
    }
    chain.push(root);
  }
  for (let i = 0; i < chain.length - 1; i++) {
    const cert = chain[i];
    const issuer = chain[i + 1];
    if (!bytesEqual(cert.issuerDer, issuer.subjectDer)) {
      return { ok: false, reason: `${what}: "${cert.commonName}" is not issued by "${issuer.commonName}"` };
    }
    if (!issuer.x509.ca) return { ok: false, reason: `${what}: "${issuer.commonName}" is not a CA` };
    if (!cert.x509.verify(issuer.x509.publicKey)) {
      return { ok: false, reason: `${what}: signature of "${cert.commonName}" is invalid` };
    }
  }
  if (!root.x509.verify(root.x509.publicKey)) return { ok: false, reason: `${root.commonName} self-signature is invalid` };
  return { ok: true, chain };
}

/** Certificates not valid at `at`, described for a check detail. */
export function validityProblems(certs: Cert[], at: Date): string[] {
  const problems: string[] = [];
  for (const cert of certs) {
    if (at < cert.notBefore) {
      problems.push(`"${cert.commonName}" not yet valid (notBefore ${iso(cert.notBefore)})`);
    } else if (at > cert.notAfter) {
      problems.push(`"${cert.commonName}" expired (notAfter ${iso(cert.notAfter)})`);
    }
  }
  return problems;
}

export const iso = (d: Date): string => d.toISOString().replace('.000Z', 'Z');
