import { encode as encodeDagCbor } from '@ipld/dag-cbor';
import { SiweMessage } from 'siwe';
import { describe, expect, it } from 'vitest';
import {
  cacaoPayloadOfSiwe,
  decodeCacao,
  decodeCacaoEnvelope,
  encodeCacao,
  epochSeconds,
  parseRfc3339,
  recoverEip191Signer,
  renderSiweMessage,
  verifyEip191,
  verifyEnvelope,
  type SiweFields,
} from '../../src/core/auth/index.js';
import { siweFieldsOf } from '../support/siwe.js';
import { readVectorText } from '../support/vectors.js';
import { alice, bob } from './principals.js';

const vectors = <T>(name: string) => Object.entries(JSON.parse(readVectorText('protocol/siwe', name)) as Record<string, T>);

type VectorFields = Omit<SiweFields, 'version'> & { version?: string; signature?: string; time?: string };
const fieldsOf = ({ signature: _s, time: _t, version: _v, ...fields }: VectorFields): SiweFields => fields;
const bytesOf = (hex: string) => Buffer.from(hex.slice(2), 'hex');

describe('EIP-4361 rendering', () => {
  it.each(vectors<{ message: string; fields: VectorFields }>('parsing_positive.json'))(
    'renders %s byte for byte',
    (_, v) => {
      expect(renderSiweMessage(fieldsOf(v.fields))).toBe(v.message);
    },
  );

  it.each(vectors<{ msg: VectorFields; error: string }>('message_objects.json').filter(([, v]) => v.error === 'none'))(
    'renders %s exactly as the siwe package does',
    (_, v) => {
      const reference = new SiweMessage({ ...v.msg, resources: v.msg.resources && [...v.msg.resources], version: '1' }).prepareMessage();
      // The siwe package writes an empty `Resources:` list; a CACAO omits it (and so does the Rust node).
      const expected = v.msg.resources?.length === 0 ? reference.replace(/\nResources:$/, '') : reference;
      expect(renderSiweMessage(fieldsOf(v.msg))).toBe(expected);
    },
  );

  it.each(
    vectors<{ msg: string }>('valid_specification.json').filter(([name]) => name !== 'resources empty'),
  )('round-trips the %s message through the siwe parser', (_, v) => {
    const m = new SiweMessage(v.msg);
    const fields: SiweFields = { ...siweFieldsOf(m), scheme: m.scheme, notBefore: m.notBefore, requestId: m.requestId };
    expect(renderSiweMessage(fields)).toBe(v.msg);
  });

  it('omits the statement line when there is none, leaving two empty lines', () => {
    const text = renderSiweMessage({
      domain: 'a.example',
      address: alice.wallet.address.toLowerCase(),
      uri: 'did:key:z6Mkexample',
      chainId: 1,
      nonce: 'abcdefgh1',
      issuedAt: '2026-01-01T00:00:00Z',
    });
    expect(text.split('\n').slice(1, 5)).toEqual([alice.wallet.address, '', '', 'URI: did:key:z6Mkexample']);
  });
});

describe('EIP-191 verification', () => {
  const envelopeOf = async (fields: SiweFields, signature: Uint8Array) => {
    const env = await decodeCacaoEnvelope(encodeCacao(cacaoPayloadOfSiwe(fields), signature));
    if (!env.ok) throw env.error;
    return env.value;
  };

  it.each(vectors<VectorFields>('verification_positive.json'))('accepts %s', async (_, v) => {
    const fields = fieldsOf(v);
    expect(verifyEip191(renderSiweMessage(fields), bytesOf(v.signature!), v.address)).toBe(true);
    const now = v.time ? parseRfc3339(v.time)! : parseRfc3339(v.issuedAt)! + 1;
    const verified = verifyEnvelope(await envelopeOf(fields, bytesOf(v.signature!)), now);
    expect(verified.ok || verified.error.message).toBe(true);
  });

  it('reads the recovery id as v % 27 (v = 0/1 and 27/28 both recover)', () => {
    const text = 'hello';
    const sig = bytesOf(alice.wallet.signMessageSync(text));
    const v0 = Uint8Array.from(sig);
    v0[64] = (sig[64] as number) - 27;
    expect(recoverEip191Signer(text, sig)).toBe(alice.wallet.address);
    expect(recoverEip191Signer(text, v0)).toBe(alice.wallet.address);
    const v2 = Uint8Array.from(sig);
    v2[64] = 29;
    expect(recoverEip191Signer(text, v2)).toBeUndefined();
  });

  it('refuses the high-S twin of a valid signature', () => {
    const text = 'hello';
    const sig = bytesOf(alice.wallet.signMessageSync(text));
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${Buffer.from(sig.subarray(32, 64)).toString('hex')}`);
    const twin = Uint8Array.from(sig);
    twin.set(Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), 32);
    twin[64] = (sig[64] as number) === 27 ? 28 : 27;
    expect(verifyEip191(text, sig, alice.wallet.address)).toBe(true);
    expect(verifyEip191(text, twin, alice.wallet.address)).toBe(false);
  });

  it('refuses a signature by another wallet', () => {
    const text = 'hello';
    expect(verifyEip191(text, bytesOf(bob.wallet.signMessageSync(text)), alice.wallet.address)).toBe(false);
  });

  const negatives = vectors<VectorFields & { domainBinding?: string; matchNonce?: string }>('verification_negative.json');

  it.each(negatives.filter(([name]) => ['malformed signature', 'wrong signature'].includes(name)))(
    'refuses %s',
    (_, v) => {
      expect(verifyEip191(renderSiweMessage(fieldsOf(v)), bytesOf(v.signature!), v.address)).toBe(false);
    },
  );

  it.each(negatives.filter(([name]) => ['expired message', 'custom time'].includes(name)))(
    'refuses %s as expired',
    async (_, v) => {
      const now = v.time ? parseRfc3339(v.time)! : epochSeconds();
      const verified = verifyEnvelope(await envelopeOf(fieldsOf(v), bytesOf(v.signature!)), now);
      expect(verified.ok || verified.error.code).toBe('AUTH_EXPIRED');
    },
  );

  it('refuses "not yet valid" before its Not Before', async () => {
    const v = Object.fromEntries(negatives)['not yet valid']!;
    const verified = verifyEnvelope(await envelopeOf(fieldsOf(v), bytesOf(v.signature!)), epochSeconds());
    expect(verified.ok || verified.error.code).toBe('AUTH_NOT_YET_VALID');
  });

  it.each(negatives.filter(([name]) => name.startsWith('invalid ')))('refuses %s when decoding', (_, v) => {
    const cacao = encodeCacao(cacaoPayloadOfSiwe(fieldsOf(v)), bytesOf(v.signature!));
    const decoded = decodeCacao(cacao);
    expect(decoded.ok || decoded.error.code).toBe('AUTH_MALFORMED');
  });

  // "domain binding" and "custom nonce" bind a message to the relying party's own domain and nonce; a node has
  // neither (WIRE §2.12: SIWE nonces are not tracked), so those two vectors do not apply.

  it.each(vectors<{ message: string; signature: string }>('eip1271.json'))(
    'does not accept the EIP-1271 contract-wallet signature %s',
    (_, v) => {
      const address = v.message.split('\n')[1] as string;
      expect(verifyEip191(v.message, bytesOf(v.signature), address)).toBe(false);
    },
  );
});

/** A raw CACAO built from a vector object, keys in whatever order dag-cbor writes. */
function rawCacao(o: Record<string, unknown>): Uint8Array {
  const p: Record<string, unknown> = {
    ...(o.domain !== undefined && { domain: o.domain }),
    ...(o.address !== undefined && o.chainId !== undefined && { iss: `did:pkh:eip155:${String(o.chainId)}:${String(o.address)}` }),
    ...(o.statement !== undefined && { statement: o.statement }),
    ...(o.uri !== undefined && { aud: o.uri }),
    ...(o.version !== undefined && { version: o.version === '1' ? 1 : o.version }),
    ...(o.nonce !== undefined && { nonce: o.nonce }),
    ...(o.issuedAt !== undefined && { iat: o.issuedAt }),
    ...(o.expirationTime !== undefined && { exp: o.expirationTime }),
    ...(o.notBefore !== undefined && { nbf: o.notBefore }),
    ...(o.resources !== undefined && { resources: o.resources }),
  };
  return encodeDagCbor({ h: { t: 'eip4361' }, p, s: { t: 'eip191', s: new Uint8Array(65) } });
}

describe('CACAO payload validation against the EIP-4361 negative objects', () => {
  it.each(vectors<Record<string, unknown>>('parsing_negative_objects.json'))('refuses %s', (_, o) => {
    const decoded = decodeCacao(rawCacao(o));
    expect(decoded.ok || decoded.error.code).toBe('AUTH_MALFORMED');
  });

  it.each(vectors<{ msg: Record<string, unknown>; error: string }>('message_objects.json'))(
    '%s',
    (_, v) => {
      const decoded = decodeCacao(rawCacao({ ...v.msg }));
      expect(decoded.ok).toBe(v.error === 'none');
    },
  );
});
