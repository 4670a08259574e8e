import type BetterSqlite3 from 'better-sqlite3';
import { Catalog } from './catalog.js';
import { explain, profileStatement, vtabNames, type StatementProfile, type VtabNames } from './program.js';

const PROFILE_CACHE = 256;

/**
 * Profiles statements on one connection, caching by SQL text for as long as the schema does not change.
 * Column analysis runs only for holders whose grants name columns; the cache keeps both kinds apart.
 */
export class StatementInspector {
  #catalog?: Catalog;
  #vtabs?: VtabNames;
  readonly #profiles = new Map<string, StatementProfile>();
  readonly #schemaVersion: BetterSqlite3.Statement;

  constructor(private readonly db: BetterSqlite3.Database) {
    this.#schemaVersion = db.prepare('PRAGMA main.schema_version').pluck().safeIntegers(false);
  }

  catalog(): Catalog {
    const version = Number(this.#schemaVersion.get());
    if (!this.#catalog || this.#catalog.schemaVersion !== version) {
      this.#catalog = Catalog.load(this.db, version);
      this.#vtabs = undefined;
      this.#profiles.clear();
    }
    return this.#catalog;
  }

  inspect(sql: string, statement: BetterSqlite3.Statement, params: unknown[], wantColumns: boolean): StatementProfile {
    const catalog = this.catalog();
    const key = `${wantColumns ? 'c' : 't'}${sql}`;
    const cached = this.#profiles.get(key);
    if (cached) {
      this.#profiles.delete(key);
      this.#profiles.set(key, cached);
      return cached;
    }
    const programs = explain(this.db, sql, params);
    const usesVtab = programs.some((ops) => ops.some((op) => typeof op.p4 === 'string' && op.p4.startsWith('vtab:')));
    if (usesVtab && !this.#vtabs) this.#vtabs = vtabNames(this.db, catalog);
    const profile = profileStatement(programs, statement.readonly, catalog, this.#vtabs ?? new Map(), wantColumns);
    this.#profiles.set(key, profile);
    if (this.#profiles.size > PROFILE_CACHE) this.#profiles.delete(this.#profiles.keys().next().value as string);
    return profile;
  }
}
