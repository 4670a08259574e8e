import { describe, expect, it } from 'vitest';
import { abilityMatches, canonicalAbility, isValidAbility } from '../../src/core/auth/index.js';

describe('ability registry (WIRE §2.9, §3)', () => {
  it('resolves deprecated aliases on both sides', () => {
    expect(canonicalAbility('tinycloud.kv/delete')).toBe('tinycloud.kv/del');
    expect(abilityMatches('tinycloud.kv/delete', 'tinycloud.kv/del')).toBe(true);
    expect(abilityMatches('tinycloud.kv/del', 'tinycloud.kv/delete')).toBe(true);
    expect(abilityMatches('tinycloud.sql/read', 'tinycloud.sql/select')).toBe(true);
    expect(abilityMatches('tinycloud.duckdb/select', 'tinycloud.duckdb/read')).toBe(true);
  });

  it('follows implications: sql/admin ⊃ schema, sql/* and duckdb/* ⊃ their actions', () => {
    expect(abilityMatches('tinycloud.sql/admin', 'tinycloud.sql/schema')).toBe(true);
    expect(abilityMatches('tinycloud.sql/admin', 'tinycloud.sql/write')).toBe(false);
    for (const a of ['read', 'select', 'write', 'schema', 'admin']) {
      expect(abilityMatches('tinycloud.sql/*', `tinycloud.sql/${a}`)).toBe(true);
    }
    for (const a of ['read', 'write', 'admin', 'import', 'export']) {
      expect(abilityMatches('tinycloud.duckdb/*', `tinycloud.duckdb/${a}`)).toBe(true);
    }
    expect(abilityMatches('tinycloud.sql/schema', 'tinycloud.sql/admin')).toBe(false);
  });

  it('has no kv wildcard: kv/* authorizes only the literal kv/*', () => {
    expect(abilityMatches('tinycloud.kv/*', 'tinycloud.kv/get')).toBe(false);
    expect(abilityMatches('tinycloud.kv/*', 'tinycloud.kv/*')).toBe(true);
  });

  it('matches unknown abilities literally, and never across namespaces', () => {
    expect(abilityMatches('tinycloud.sql/export', 'tinycloud.sql/export')).toBe(true);
    expect(abilityMatches('tinycloud.kv/get', 'tinycloud.kv/put')).toBe(false);
    expect(abilityMatches('tinycloud.sql/*', 'tinycloud.duckdb/read')).toBe(false);
  });

  it('checks ability syntax: one slash, non-empty parts of [A-Za-z0-9-_.+*]', () => {
    for (const ok of ['tinycloud.kv/get', 'a/b', 'x-y_z.+*/network.create', 'kv/*']) expect(isValidAbility(ok)).toBe(true);
    for (const bad of ['kv', '/get', 'kv/', 'a/b/c', 'kv/g et', 'kv/gét', '']) expect(isValidAbility(bad)).toBe(false);
  });
});
