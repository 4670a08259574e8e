// RFC 3986 URI syntax, composed from the RFC's ABNF. Only syntax: nothing is normalized or resolved.
const UNRESERVED = "A-Za-z0-9\\-._~";
const SUB_DELIMS = "!$&'()*+,;=";
const PCT = '%[0-9A-Fa-f]{2}';
const PCHAR = `(?:[${UNRESERVED}${SUB_DELIMS}:@]|${PCT})`;

// Octets with leading zeros are accepted, as the EIP-4361 vectors expect (`[::000.000.010.001]`).
const DEC_OCTET = '(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])';
const IPV4 = `${DEC_OCTET}(?:\\.${DEC_OCTET}){3}`;
const H16 = '[0-9A-Fa-f]{1,4}';
const LS32 = `(?:${H16}:${H16}|${IPV4})`;
const leftGroups = (max: number): string => `(?:(?:${H16}:){0,${max}}${H16})?`;
const IPV6 = [
  `(?:${H16}:){6}${LS32}`,
  `::(?:${H16}:){5}${LS32}`,
  `(?:${H16})?::(?:${H16}:){4}${LS32}`,
  `${leftGroups(1)}::(?:${H16}:){3}${LS32}`,
  `${leftGroups(2)}::(?:${H16}:){2}${LS32}`,
  `${leftGroups(3)}::${H16}:${LS32}`,
  `${leftGroups(4)}::${LS32}`,
  `${leftGroups(5)}::${H16}`,
  `${leftGroups(6)}::`,
]
  .map((alt) => `(?:${alt})`)
  .join('|');
const IPVFUTURE = `v[0-9A-Fa-f]+\\.[${UNRESERVED}${SUB_DELIMS}:]+`;
const IP_LITERAL = `\\[(?:${IPV6}|${IPVFUTURE})\\]`;
const REG_NAME = `(?:[${UNRESERVED}${SUB_DELIMS}]|${PCT})*`;
const HOST = `(?:${IP_LITERAL}|${IPV4}|${REG_NAME})`;
const USERINFO = `(?:[${UNRESERVED}${SUB_DELIMS}:]|${PCT})*`;
const AUTHORITY = `(?:${USERINFO}@)?${HOST}(?::[0-9]*)?`;
const SEGMENT = `${PCHAR}*`;
const SEGMENT_NZ = `${PCHAR}+`;
const PATH_ABEMPTY = `(?:/${SEGMENT})*`;
const PATH_ABSOLUTE = `/(?:${SEGMENT_NZ}(?:/${SEGMENT})*)?`;
const PATH_ROOTLESS = `${SEGMENT_NZ}(?:/${SEGMENT})*`;
const HIER_PART = `(?://${AUTHORITY}${PATH_ABEMPTY}|${PATH_ABSOLUTE}|${PATH_ROOTLESS}|)`;
const SCHEME = '[A-Za-z][A-Za-z0-9+\\-.]*';
const QUERY = `(?:${PCHAR}|[/?])*`;
const URI = `${SCHEME}:${HIER_PART}(?:\\?${QUERY})?(?:#${QUERY})?`;

const anchored = (source: string): RegExp => new RegExp(`^(?:${source})$`);

/** Anchored matchers for single ABNF rules, named as in RFC 3986. */
export const URI_RULES = {
  scheme: anchored(SCHEME),
  userinfo: anchored(USERINFO),
  'IPvFuture': anchored(IPVFUTURE),
  'IPv6address': anchored(IPV6),
  'reg-name': anchored(REG_NAME),
  'segment-nz': anchored(SEGMENT_NZ),
  'pct-encoded': anchored(PCT),
  fragment: anchored(QUERY),
  query: anchored(QUERY),
  authority: anchored(AUTHORITY),
  URI: anchored(URI),
} as const satisfies Record<string, RegExp>;

export const isUri = (text: string): boolean => URI_RULES.URI.test(text);

/** A non-empty RFC 3986 authority (the SIWE `domain`). */
export const isAuthority = (text: string): boolean => text.length > 0 && URI_RULES.authority.test(text);
