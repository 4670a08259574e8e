import { describe, expect, it } from 'vitest';
import { isAuthority, isUri, URI_RULES } from '../../src/core/auth/uri.js';
import { readVectorText } from '../support/vectors.js';

const vectors = <T>(name: string) => Object.entries(JSON.parse(readVectorText('protocol/siwe', name)) as Record<string, T>);
const uriLine = (msg: string) => /\nURI: (.*)\n/.exec(msg)?.[1] as string;
const resourceLines = (msg: string) => msg.split('\nResources:\n')[1]?.split('\n').map((l) => l.slice(2)) ?? [];

type CharVector = { rule: string; input: string; answer: boolean };
// The EIP-4361 `statement` rule is not enforced on CACAO payloads (only line breaks are refused), so its
// character vectors are left out.
const charVectors = [...vectors<CharVector>('valid_chars.json'), ...vectors<CharVector>('invalid_chars.json')].filter(
  ([, v]) => v.rule !== 'statement',
);

describe('RFC 3986 syntax', () => {
  it.each(charVectors)('rule check: %s', (_, v) => {
    expect(URI_RULES[v.rule as keyof typeof URI_RULES].test(v.input)).toBe(v.answer);
  });

  it.each(vectors<{ msg: string }>('valid_uris.json'))('accepts %s', (_, v) => {
    expect(isUri(uriLine(v.msg))).toBe(true);
  });

  it.each(vectors<string>('invalid_uris.json'))('refuses %s', (_, msg) => {
    expect(isUri(uriLine(msg))).toBe(false);
  });

  it.each(vectors<{ msg: string; resources: string[] }>('valid_resources.json'))('accepts resources %s', (_, v) => {
    expect(resourceLines(v.msg)).toEqual(v.resources);
    expect(v.resources.every(isUri)).toBe(true);
  });

  it.each(vectors<string>('invalid_resources.json'))('refuses resource %s', (_, msg) => {
    expect(resourceLines(msg).every(isUri)).toBe(false);
  });

  it('accepts SIWE domains as authorities, refuses fragments and empty ones', () => {
    for (const ok of ['service.org', 'test@127.0.0.1:8080', '[::cafe]', 'localhost:3030']) expect(isAuthority(ok)).toBe(true);
    for (const bad of ['#notrfc4501', '', 'a b', 'a/b']) expect(isAuthority(bad)).toBe(false);
  });
});
