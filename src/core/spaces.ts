import { getAddress } from 'ethers';
import { TinyCloudError } from './errors.js';

/**
 * Validates a SpaceId (`tinycloud:<did-suffix>:<name>`, WIRE §3) and returns its canonical form: did:pkh
 * addresses in EIP-55, so `0xf39fd6…` and `0xf39Fd6…` name the same space and derive the same host key.
 */
export function canonicalSpaceId(text: string): string {
  const invalid = () => new TinyCloudError('INVALID_SPACE_ID', 'Invalid space ID');
  if (!text.startsWith('tinycloud:') || /[\s/?#]/.test(text) || text.endsWith(':')) throw invalid();
  const cut = text.lastIndexOf(':');
  const suffix = text.slice('tinycloud:'.length, cut);
  const name = text.slice(cut + 1);
  if (!suffix || !name) throw invalid();
  const pkh = /^pkh:eip155:([1-9]\d*):(0x[0-9a-fA-F]{40})$/.exec(suffix);
  if (pkh) return `tinycloud:pkh:eip155:${pkh[1]}:${getAddress(pkh[2]!.toLowerCase())}:${name}`;
  if (suffix.startsWith('pkh:')) throw invalid();
  if (!/^[a-z0-9]+:[A-Za-z0-9._:%-]+$/.test(suffix)) throw invalid();
  return text;
}
