/**
 * A throwaway DCAP-shaped PKI for tests that real Intel data cannot reach: revoked certificates, other TCB
 * statuses, and quotes over report data chosen at run time. Everything is signed for real with node:crypto;
 * the verifier is pointed at this root with `rootCaDer`.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
export const SGX_EXT = '1.2.840.113741.1.13.1';

function length(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}
export const tlv = (tag: number, ...parts: Uint8Array[]): Uint8Array => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag, ...length(body.length)]), body]);
};
export const seq = (...parts: Uint8Array[]) => tlv(0x30, ...parts);
const set = (...parts: Uint8Array[]) => tlv(0x31, ...parts);
export const octets = (b: Uint8Array) => tlv(0x04, b);
export function int(value: number | bigint): Uint8Array {
  let hex = BigInt(value).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (Number.parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return tlv(0x02, Buffer.from(hex, 'hex'));
}
export function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const bytes = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}
const utcTime = (d: Date) => tlv(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`));
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn)))));
const bits = (b: Uint8Array) => tlv(0x03, Buffer.from([0]), b);

export interface Issuer {
  cn: string;
  key: KeyObject;
}

export interface Minted extends Issuer {
  der: Uint8Array;
  pem: string;
  serial: bigint;
  publicKey: KeyObject;
}

let nextSerial = 0x1000n;

export function mintCert(opts: {
  cn: string;
  issuer?: Issuer;
  ca: boolean;
  notBefore?: Date;
  notAfter?: Date;
  extensions?: Uint8Array[];
}): Minted {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuer = opts.issuer ?? { cn: opts.cn, key: privateKey };
  const serial = nextSerial++;
  const basic = seq(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), octets(opts.ca ? seq(tlv(0x01, Buffer.from([0xff]))) : seq()));
  const tbs = seq(
    tlv(0xa0, int(2)),
    int(serial),
    seq(oid(ECDSA_SHA256)),
    name(issuer.cn),
    seq(utcTime(opts.notBefore ?? new Date('2020-01-01T00:00:00Z')), utcTime(opts.notAfter ?? new Date('2045-01-01T00:00:00Z'))),
    name(opts.cn),
    publicKey.export({ format: 'der', type: 'spki' }),
    tlv(0xa3, seq(basic, ...(opts.extensions ?? []))),
  );
  const der = seq(tbs, seq(oid(ECDSA_SHA256)), bits(sign('sha256', tbs, issuer.key)));
  const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
  return { cn: opts.cn, key: privateKey, publicKey, der, pem, serial };
}

export function mintCrl(issuer: Issuer, revoked: bigint[], thisUpdate: Date, nextUpdate: Date): Uint8Array {
  const entries = revoked.map((serial) => seq(int(serial), utcTime(thisUpdate)));
  const tbs = seq(int(1), seq(oid(ECDSA_SHA256)), name(issuer.cn), utcTime(thisUpdate), utcTime(nextUpdate), ...(entries.length ? [seq(...entries)] : []));
  return seq(tbs, seq(oid(ECDSA_SHA256)), bits(sign('sha256', tbs, issuer.key)));
}

/** The Intel SGX extension of a PCK certificate: PPID, TCB (16 SVNs, PCESVN, CPUSVN), PCE ID, FMSPC, type. */
export function sgxExtension(p: { compSvn: number[]; pceSvn: number; fmspc: string }): Uint8Array {
  const entry = (suffix: string, value: Uint8Array) => seq(oid(`${SGX_EXT}.${suffix}`), value);
  const tcb = seq(
    ...p.compSvn.map((svn, i) => entry(`2.${i + 1}`, int(svn))),
    entry('2.17', int(p.pceSvn)),
    entry('2.18', octets(Buffer.from(p.compSvn))),
  );
  const value = seq(
    entry('1', octets(Buffer.alloc(16, 0xaa))),
    entry('2', tcb),
    entry('3', octets(Buffer.from('0000', 'hex'))),
    entry('4', octets(Buffer.from(p.fmspc, 'hex'))),
    entry('5', tlv(0x0a, Buffer.from([0]))),
  );
  return seq(oid(SGX_EXT), octets(value));
}

export const signRS = (key: KeyObject, data: Uint8Array | string): Uint8Array =>
  sign('sha256', typeof data === 'string' ? Buffer.from(data) : data, { key, dsaEncoding: 'ieee-p1363' });
