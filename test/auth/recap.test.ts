import { SiweMessage } from 'siwe';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  decodeRecap,
  encodeRecap,
  extractRecap,
  statementFor,
  statementMatchesRecap,
  type Attenuations,
} from '../../src/core/auth/index.js';
import { readVectorText } from '../support/vectors.js';

// The files end with a newline that is not part of the message.
const siwe = (name: string) => new SiweMessage(readVectorText('protocol/siwe-recap', name).replace(/\n$/, ''));
const recapOf = (json: unknown) => `urn:recap:${Buffer.from(JSON.stringify(json)).toString('base64url')}`;

describe('ReCap JCS serialization (serialized_cap.json)', () => {
  const text = readVectorText('protocol/siwe-recap', 'serialized_cap.json').trim();
  const value = JSON.parse(text) as { att: Attenuations; prf: string[] };

  it('serializes to the vector byte for byte from any key order', () => {
    const shuffled = { prf: value.prf, att: Object.fromEntries(Object.entries(value.att).reverse()) };
    expect(canonicalJson(shuffled)).toBe(text);
  });

  it('round-trips through urn:recap: with caveats and a base58 proof', () => {
    const uri = encodeRecap(value);
    expect(Buffer.from(uri.slice('urn:recap:'.length), 'base64url').toString()).toBe(text);
    expect(uri).not.toContain('=');
    const decoded = decodeRecap(uri);
    expect(decoded.ok && decoded.value.att).toEqual(value.att);
    expect(decoded.ok && decoded.value.proofs.map(String)).toHaveLength(1);
  });

  it('escapes and orders like RFC 8785 (UTF-16 key order, ES number form)', () => {
    expect(canonicalJson({ b: [1, 1e21, 0.5, -0], a: 'é\n"', '\u{1F600}': null, '\uFFFF': true })).toBe(
      '{"a":"é\\n\\"","b":[1,1e+21,0.5,0],"\u{1F600}":null,"\uFFFF":true}',
    );
  });
});

describe('ReCap inside SIWE (siwe-recap vectors)', () => {
  it('siwe_with_caps: the statement is exactly the generated text', () => {
    const m = siwe('siwe_with_caps.txt');
    const recap = extractRecap(m.resources);
    if (!recap.ok || !recap.value) throw new Error('expected a recap');
    expect(statementFor(recap.value.att)).toBe(m.statement);
    expect(statementMatchesRecap(m.statement, recap.value.att)).toBe(true);
    expect(encodeRecap(recap.value)).toBe(m.resources?.at(-1));
  });

  it('siwe_with_statement: a custom prefix joins the generated text with one space', () => {
    const m = siwe('siwe_with_statement.txt');
    const recap = extractRecap(m.resources);
    if (!recap.ok || !recap.value) throw new Error('expected a recap');
    expect(statementFor(recap.value.att, 'Some custom statement.')).toBe(m.statement);
    expect(statementMatchesRecap(m.statement, recap.value.att)).toBe(true);
  });

  it.each(['siwe_with_no_caps.txt', 'siwe_with_statement_no_caps.txt'])('%s carries no capabilities', (name) => {
    const recap = extractRecap(siwe(name).resources);
    expect(recap.ok && recap.value).toBeUndefined();
  });

  it('siwe_with_interleaved_resources: a recap that is not the last resource is refused', () => {
    const recap = extractRecap(siwe('siwe_with_interleaved_resources.txt').resources);
    expect(recap.ok || recap.error.code).toBe('AUTH_INVALID_RECAP');
  });

  it('a message whose last resource is not a recap carries no capabilities', () => {
    const recap = extractRecap(['https://example.com', 'ftp://example.com']);
    expect(recap.ok && recap.value).toBeUndefined();
  });
});

describe('statement rule', () => {
  const att: Attenuations = {
    'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:b/kv/x': { 'tinycloud.kv/get': [{}], 'tinycloud.kv/put': [{}] },
    'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:a/sql': { 'tinycloud.sql/read': [{}] },
  };
  const generated = statementFor(att);

  it('orders resources by bytes and numbers the lines across resources', () => {
    expect(generated).toBe(
      "I further authorize the stated URI to perform the following actions on my behalf: (1) 'tinycloud.sql': 'read' for " +
        "'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:a/sql'. (2) 'tinycloud.kv': 'get', 'put' for " +
        "'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:b/kv/x'.",
    );
  });

  it.each([
    ['missing', undefined],
    ['truncated', generated.slice(0, -1)],
    ['glued to a prefix without a space', `Hello.${generated}`],
    ['followed by more text', `${generated} And more.`],
    ['for other abilities', statementFor({ ...att, extra: { 'x/y': [{}] } })],
  ])('refuses a statement %s', (_, statement) => {
    expect(statementMatchesRecap(statement, att)).toBe(false);
  });
});

describe('recap decoding', () => {
  const resource = 'tinycloud:pkh:eip155:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266:a/kv';

  it.each([
    ['an empty caveat list', { att: { [resource]: { 'tinycloud.kv/get': [] } }, prf: [] }],
    ['a caveat that is not an object', { att: { [resource]: { 'tinycloud.kv/get': [1] } }, prf: [] }],
    ['a bad ability', { att: { [resource]: { 'kv get': [{}] } }, prf: [] }],
    ['a resource that is not a URI', { att: { 'not a uri': { 'a/b': [{}] } }, prf: [] }],
    ['a base32 proof CID', { att: {}, prf: ['bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4'] }],
    ['a proof that is not a CID', { att: {}, prf: ['zzzz'] }],
  ])('refuses %s', (_, json) => {
    const decoded = decodeRecap(recapOf(json));
    expect(decoded.ok || decoded.error.code).toBe('AUTH_INVALID_RECAP');
  });

  it('refuses padded base64url and non-JSON payloads', () => {
    expect(decodeRecap(`${recapOf({ att: {}, prf: [] })}==`).ok).toBe(false);
    expect(decodeRecap(`urn:recap:${Buffer.from('nope').toString('base64url')}`).ok).toBe(false);
  });
});
