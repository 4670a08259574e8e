import { describe, expect, it } from 'vitest';
import { parseResource, parseSpaceId, resourceExtends, rootAuthorityOf, type ParsedResource } from '../../src/core/auth/index.js';
import { alice, bob } from './principals.js';

const ADDRESS = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';
const SPACE = `tinycloud:pkh:eip155:1:${ADDRESS}:default`;

function parsed(uri: string): ParsedResource {
  const r = parseResource(uri);
  if (!r.ok) throw r.error;
  return r.value;
}
const covers = (base: string, child: string) => resourceExtends(parsed(child), parsed(base));

describe('SpaceId (WIRE §3)', () => {
  it('splits the name at the last colon and names the owner DID', () => {
    const space = parseSpaceId(SPACE);
    expect(space.ok && space.value).toEqual({ text: SPACE, did: `did:pkh:eip155:1:${ADDRESS}`, name: 'default' });
  });

  it('canonicalizes a lower-case address to EIP-55', () => {
    const space = parseSpaceId(SPACE.replace(ADDRESS, ADDRESS.toLowerCase()));
    expect(space.ok && space.value.text).toBe(SPACE);
  });

  it('accepts did:key spaces', () => {
    const space = parseSpaceId(`tinycloud:key:${alice.sessionDid.slice(8)}:photos`);
    expect(space.ok && space.value.did).toBe(alice.sessionDid);
  });

  it.each([
    ['an empty name', `tinycloud:pkh:eip155:1:${ADDRESS}:`],
    ['the legacy orbit form', `tinycloud:pkh:eip155:1:${ADDRESS}://default`],
    ['a bad checksum', SPACE.replace('0xf39F', '0xF39F')],
    ['another scheme', `orbit:pkh:eip155:1:${ADDRESS}:default`],
    ['a lower-case percent-escape', `tinycloud:pkh:eip155:1:${ADDRESS}:a%2fb`],
    ['an escaped unreserved character', `tinycloud:pkh:eip155:1:${ADDRESS}:%41b`],
    ['a name with a query', `${SPACE}?x`],
  ])('refuses %s', (_, text) => {
    expect(parseSpaceId(text).ok).toBe(false);
  });
});

describe('ResourceId parsing', () => {
  it('keeps the path exactly as written, percent-escapes included', () => {
    const r = parsed(`${SPACE}/kv/photos/a%20b/Ü%C3%9C`.replace('Ü', '%c3%9c'));
    expect(r.kind === 'tinycloud' && r.path).toBe('photos/a%20b/%c3%9c%C3%9C');
  });

  it('tells "no path" (…/kv) from "empty path" (…/kv/)', () => {
    const none = parsed(`${SPACE}/kv`);
    const empty = parsed(`${SPACE}/kv/`);
    expect(none.kind === 'tinycloud' && none.path).toBeUndefined();
    expect(empty.kind === 'tinycloud' && empty.path).toBe('');
  });

  it('separates query and fragment, and canonicalizes the space in the text', () => {
    const r = parsed(`${SPACE.replace(ADDRESS, ADDRESS.toLowerCase())}/sql/db?x=1#frag`);
    expect(r.uri).toBe(`${SPACE}/sql/db?x=1#frag`);
    expect(r.kind === 'tinycloud' && [r.service, r.path, r.query, r.fragment]).toEqual(['sql', 'db', 'x=1', 'frag']);
  });

  it.each([
    ['no service', SPACE],
    ['dot segments', `${SPACE}/kv/photos/../secret`],
    ['a single dot segment', `${SPACE}/kv/./x`],
    ['percent-encoded dot segments', `${SPACE}/kv/photos/%2e%2E/secret`],
    ['spaces', `${SPACE}/kv/a b`],
    ['an upper-case scheme', `TINYCLOUD:pkh:eip155:1:${ADDRESS}:default/kv/x`],
  ])('refuses %s', (_, uri) => {
    expect(parseResource(uri).ok).toBe(false);
  });

  it('parses encryption networks with a canonical owner, urn:cid and other URIs', () => {
    const net = parsed(`urn:tinycloud:encryption:did:pkh:eip155:1:${ADDRESS.toLowerCase()}:default`);
    expect(net.kind === 'encryption-network' && [net.owner, net.name]).toEqual([`did:pkh:eip155:1:${ADDRESS}`, 'default']);
    expect(net.uri).toBe(`urn:tinycloud:encryption:did:pkh:eip155:1:${ADDRESS}:default`);
    const cid = parsed('urn:cid:bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4');
    expect(cid.kind).toBe('cid');
    expect(parsed('https://example.com/x').kind).toBe('other');
    expect(parseResource('urn:cid:notacid').ok).toBe(false);
  });

  it('names the root authority: space owner or network owner', () => {
    expect(rootAuthorityOf(parsed(`${alice.space()}/kv/x`))).toBe(alice.pkh);
    expect(rootAuthorityOf(parsed(`urn:tinycloud:encryption:${bob.pkh}:n`))).toBe(bob.pkh);
    expect(rootAuthorityOf(parsed('urn:cid:bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4'))).toBeUndefined();
  });
});

describe('containment (ResourceId::extends, WIRE §2.9)', () => {
  it('covers the same path and paths below it on segment boundaries', () => {
    expect(covers(`${SPACE}/kv/docs`, `${SPACE}/kv/docs`)).toBe(true);
    expect(covers(`${SPACE}/kv/docs`, `${SPACE}/kv/docs/a`)).toBe(true);
    expect(covers(`${SPACE}/kv/docs`, `${SPACE}/kv/docsX`)).toBe(false);
  });

  it('does not let photos/ cover the sibling prefix photos2/', () => {
    expect(covers(`${SPACE}/kv/photos/`, `${SPACE}/kv/photos/cat.jpg`)).toBe(true);
    expect(covers(`${SPACE}/kv/photos/`, `${SPACE}/kv/photos2/cat.jpg`)).toBe(false);
    expect(covers(`${SPACE}/kv/photos`, `${SPACE}/kv/photos2`)).toBe(false);
  });

  it('treats a base path ending in / as a plain prefix', () => {
    expect(covers(`${SPACE}/kv/ph/`, `${SPACE}/kv/ph/x`)).toBe(true);
    expect(covers(`${SPACE}/kv/ph/`, `${SPACE}/kv/ph/`)).toBe(true);
    expect(covers(`${SPACE}/kv/ph/`, `${SPACE}/kv/ph`)).toBe(false);
  });

  it('gives the empty path (…/kv/) no wildcard power: it covers itself and "/…" only', () => {
    expect(covers(`${SPACE}/kv/`, `${SPACE}/kv/`)).toBe(true);
    expect(covers(`${SPACE}/kv/`, `${SPACE}/kv//x`)).toBe(true);
    expect(covers(`${SPACE}/kv/`, `${SPACE}/kv/anything`)).toBe(false);
    expect(covers(`${SPACE}/kv/`, `${SPACE}/kv`)).toBe(false);
  });

  it('lets a base without path cover every path, but not the reverse', () => {
    expect(covers(`${SPACE}/kv`, `${SPACE}/kv/a/b`)).toBe(true);
    expect(covers(`${SPACE}/kv`, `${SPACE}/kv`)).toBe(true);
    expect(covers(`${SPACE}/kv/a`, `${SPACE}/kv`)).toBe(false);
  });

  it('requires the same space (compared canonically), service and fragment; ignores the query', () => {
    expect(covers(`${SPACE}/kv`, `${SPACE.replace(ADDRESS, ADDRESS.toLowerCase())}/kv/x`)).toBe(true);
    expect(covers(`${SPACE}/kv`, `${SPACE.replace(':default', ':other')}/kv/x`)).toBe(false);
    expect(covers(`${alice.space()}/kv`, `${bob.space()}/kv/x`)).toBe(false);
    expect(covers(`${SPACE}/kv`, `${SPACE}/sql/x`)).toBe(false);
    expect(covers(`${SPACE}/kv/x#a`, `${SPACE}/kv/x#b`)).toBe(false);
    expect(covers(`${SPACE}/kv/x`, `${SPACE}/kv/x#b`)).toBe(false);
    expect(covers(`${SPACE}/kv/x?a=1`, `${SPACE}/kv/x/y?b=2`)).toBe(true);
  });

  it('matches encryption networks exactly (default-evil is not default)', () => {
    const net = `urn:tinycloud:encryption:${alice.pkh}:default`;
    expect(covers(net, net.replace(alice.wallet.address, alice.wallet.address.toLowerCase()))).toBe(true);
    expect(covers(net, `${net}-evil`)).toBe(false);
  });

  it('matches other URIs (urn:cid included) by string prefix, never across kinds', () => {
    const cid = 'urn:cid:bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4';
    expect(covers(cid, cid)).toBe(true);
    expect(covers(cid, 'urn:cid:zb38SEm7eid5gAYxbe95Pa3AhmhRwcqGWJiFcfFgKpv6TurZj')).toBe(false);
    expect(covers('https://example.com/a', 'https://example.com/ab')).toBe(true);
    expect(covers('https://example.com/a', `${SPACE}/kv`)).toBe(false);
    expect(covers(`${SPACE}/kv`, 'https://example.com/a')).toBe(false);
  });
});
