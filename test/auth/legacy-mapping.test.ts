import { describe, expect, it } from 'vitest';
import { mapLegacyCapability, mapLegacyResource, toLegacyCapability } from '../../src/core/auth/legacy.js';

const ORBIT = 'tinycloud:pkh:eip155:1:0x37C490B2306B926Cdd3a4018Cb1b791C828f14Fa://default';
const SPACE = 'tinycloud:pkh:eip155:1:0x37C490B2306B926Cdd3a4018Cb1b791C828f14Fa:default';

describe('legacy orbit mapping (WIRE §14)', () => {
  it.each([
    [`${ORBIT}/kv/default/hello`, `${SPACE}/kv/default/hello`],
    [`${ORBIT}/kv/default`, `${SPACE}/kv/default`],
    [`${ORBIT}/kv/default/`, `${SPACE}/kv/default/`],
    // The old node read `kv/` like `kv`: the whole service (the client writes it when its prefix is empty).
    [`${ORBIT}/kv/`, `${SPACE}/kv`],
    [`${ORBIT}/kv`, `${SPACE}/kv`],
    [`${ORBIT}/capabilities/all`, `${SPACE}/capabilities/all`],
    [ORBIT, SPACE],
    [`${SPACE}/kv/`, `${SPACE}/kv/`],
    ['urn:cid:bafkr4i', 'urn:cid:bafkr4i'],
  ])('%s → %s', (legacy, protocol1) => {
    expect(mapLegacyResource(legacy)).toBe(protocol1);
  });

  it.each([
    [`${SPACE}/kv/default`, 'tinycloud.kv/put', `${ORBIT}/kv/default`, 'kv/put'],
    [`${SPACE}/capabilities/all`, 'tinycloud.capabilities/read', `${ORBIT}/capabilities/all`, 'capabilities/read'],
    [`${SPACE}/space`, 'tinycloud.space/host', ORBIT, 'orbit/host'],
    [`${SPACE}/kv`, 'tinycloud.kv/get', `${ORBIT}/kv`, 'kv/get'],
    ['urn:cid:bafkr4i', 'tinycloud.delegation/revoke', 'urn:cid:bafkr4i', 'delegation/revoke'],
    [`${SPACE}/kv/x`, 'other.ns/act', `${ORBIT}/kv/x`, 'other.ns/act'],
  ])('reports %s %s to the old client as %s %s', (resource, ability, legacyResource, action) => {
    expect(toLegacyCapability(resource, ability)).toEqual({ resource: legacyResource, action });
  });

  it('reporting is the inverse of reading for what the old client signs', () => {
    for (const [resource, ability] of [[`${ORBIT}/kv/default`, 'kv/del'], [ORBIT, 'orbit/host'], [`${ORBIT}/capabilities/all`, 'capabilities/read']] as const) {
      const mapped = mapLegacyCapability(resource, ability);
      expect(toLegacyCapability(mapped.resource, mapped.ability)).toEqual({ resource, action: ability });
    }
  });
});
