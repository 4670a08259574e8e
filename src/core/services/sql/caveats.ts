import { canonicalJson } from '../../auth/jcs.js';

/**
 * SQL caveats (WIRE §5): `tables`, `columns`, `readOnly` and named `statements`, plus the
 * `constrained-statements` profile of `../vectors/protocol/sql-caveat/` (statements only, read-only, with
 * `fixedParams` pinned by the delegator).
 */
export interface NamedStatement {
  readonly name: string;
  readonly sql: string;
  readonly fixedParams: readonly FixedParam[];
}

export interface FixedParam {
  /** Zero-based bind position. */
  readonly index: number;
  readonly value: unknown;
}

export interface SqlCaveat {
  /** Lower-case table names the holder may touch. */
  readonly tables?: ReadonlySet<string>;
  /** Lower-case `column` or `table.column` names the holder may read or update. */
  readonly columns?: ReadonlySet<string>;
  readonly readOnly: boolean;
  /** Present: the holder may run these statements and nothing else. */
  readonly statements?: readonly NamedStatement[];
  /** `mode: "constrained-statements"`: bind values are also screened (see `screenBindValues`). */
  readonly constrained: boolean;
}

export type CaveatParse = { ok: true; caveat: SqlCaveat | undefined } | { ok: false; message: string };

const KNOWN_KEYS = new Set(['mode', 'tables', 'columns', 'readOnly', 'statements']);

/**
 * One caveat object from a capability (or an invocation's `sqlCaveats` fact). An empty object restricts
 * nothing (`undefined`). Unknown keys fail closed: a restriction this node does not understand is never ignored.
 */
export function parseSqlCaveat(raw: unknown): CaveatParse {
  const bad = (why: string): CaveatParse => ({ ok: false, message: `Malformed SQL caveat: ${why}` });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return bad('not an object');
  const obj = raw as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 0) return { ok: true, caveat: undefined };
  const unknown = keys.find((k) => !KNOWN_KEYS.has(k));
  if (unknown) return bad(`unsupported key ${JSON.stringify(unknown)}`);
  if (obj.mode !== undefined && obj.mode !== 'constrained-statements') return bad('unsupported mode');
  const constrained = obj.mode === 'constrained-statements';

  const names = (key: 'tables' | 'columns'): ReadonlySet<string> | undefined | null => {
    const value = obj[key];
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) return null;
    return new Set(value.map((v: string) => v.toLowerCase()));
  };
  const tables = names('tables');
  const columns = names('columns');
  if (tables === null) return bad('tables must be an array of names');
  if (columns === null) return bad('columns must be an array of names');
  if (obj.readOnly !== undefined && typeof obj.readOnly !== 'boolean') return bad('readOnly must be a boolean');
  if (constrained && typeof obj.readOnly !== 'boolean') return bad('constrained-statements needs readOnly');

  let statements: NamedStatement[] | undefined;
  if (obj.statements !== undefined || constrained) {
    if (!Array.isArray(obj.statements)) return bad('statements must be an array');
    statements = [];
    for (const s of obj.statements as unknown[]) {
      if (typeof s !== 'object' || s === null) return bad('statement must be an object');
      const { name, sql, fixedParams } = s as Record<string, unknown>;
      if (typeof name !== 'string' || typeof sql !== 'string') return bad('statement needs name and sql strings');
      const fixed: FixedParam[] = [];
      if (fixedParams !== undefined) {
        if (!Array.isArray(fixedParams)) return bad('fixedParams must be an array');
        for (const f of fixedParams as unknown[]) {
          const { index, value } = (f ?? {}) as Record<string, unknown>;
          if (!Number.isSafeInteger(index) || (index as number) < 0 || value === undefined) return bad('fixedParams entries need index and value');
          fixed.push({ index: index as number, value });
        }
      }
      statements.push({ name, sql, fixedParams: fixed });
    }
  }
  return { ok: true, caveat: { tables, columns, readOnly: obj.readOnly === true, statements, constrained } };
}

/** Rejection codes of the constrained-statements profile (sql-caveat vectors). */
export type ContainmentCode =
  | 'sql-non-readonly-not-permitted'
  | 'containment-sql-statement-added'
  | 'containment-sql-fixed-param-dropped'
  | 'containment-sql-fixed-param-mismatch'
  | 'containment-sql-caveat-widened';

/**
 * Whether a child delegation's SQL caveat stays within its parent's (WIRE §2.9: "a parent with an SQL
 * constrained-statements caveat requires the child to carry a contained one"). Both must be read-only; every
 * child statement must be a parent statement with the same SQL; every parent pin must be kept with the same
 * value (a child may pin more). For the plain caveat keys the child must be at least as narrow.
 */
export function sqlCaveatContains(parent: unknown, child: unknown): { ok: true } | { ok: false; code: ContainmentCode } {
  const p = parseSqlCaveat(parent);
  const c = parseSqlCaveat(child);
  if (!p.ok || !p.caveat) return { ok: true };
  if (!c.ok || !c.caveat) return { ok: false, code: p.caveat.constrained ? 'containment-sql-statement-added' : 'containment-sql-caveat-widened' };
  const [auth, req] = [p.caveat, c.caveat];
  if (auth.constrained && (!auth.readOnly || !req.readOnly)) return { ok: false, code: 'sql-non-readonly-not-permitted' };
  if (auth.readOnly && !req.readOnly) return { ok: false, code: auth.constrained ? 'sql-non-readonly-not-permitted' : 'containment-sql-caveat-widened' };
  if (auth.statements) {
    if (!req.statements) return { ok: false, code: 'containment-sql-statement-added' };
    for (const stmt of req.statements) {
      const granted = auth.statements.find((s) => s.name === stmt.name);
      if (!granted || granted.sql !== stmt.sql) return { ok: false, code: 'containment-sql-statement-added' };
      for (const pin of granted.fixedParams) {
        const kept = stmt.fixedParams.find((f) => f.index === pin.index);
        if (!kept) return { ok: false, code: 'containment-sql-fixed-param-dropped' };
        if (canonicalJson(kept.value) !== canonicalJson(pin.value)) return { ok: false, code: 'containment-sql-fixed-param-mismatch' };
      }
    }
  }
  const narrower = (a?: ReadonlySet<string>, b?: ReadonlySet<string>) => !a || (b !== undefined && [...b].every((x) => a.has(x)));
  if (!narrower(auth.tables, req.tables) || !narrower(auth.columns, req.columns)) return { ok: false, code: 'containment-sql-caveat-widened' };
  return { ok: true };
}

/** Rejection codes an invocation under a statements caveat can meet (sql-caveat vectors, reject.json). */
export type StatementRejection =
  | 'sql-statement-not-allowed'
  | 'sql-fixed-param-override'
  | 'sql-non-primitive-bind'
  | 'sql-escape-blocked'
  | 'sql-write-blocked'
  | 'sql-raw-query-blocked'
  | 'sql-raw-execute-blocked'
  | 'sql-batch-blocked'
  | 'sql-export-blocked';

/** Caller-supplied bind values keyed by position: `[a, b]` or `{"0": a, "1": b}`. */
export type SuppliedParams = ReadonlyMap<number, unknown>;

export function suppliedParams(params: unknown): SuppliedParams | undefined {
  if (params === undefined || params === null) return new Map();
  if (Array.isArray(params)) return new Map(params.map((v, i) => [i, v] as const));
  if (typeof params !== 'object') return undefined;
  const out = new Map<number, unknown>();
  for (const [key, value] of Object.entries(params as Record<string, unknown>)) {
    if (!/^(0|[1-9]\d{0,5})$/.test(key)) return undefined;
    out.set(Number(key), value);
  }
  return out;
}

/**
 * Merges the pins into the caller's values, in the vectors' order of checks: a value at a pinned position is
 * an override (an array may hold `null` there as a placeholder), then non-primitive values, then (profile
 * only) values that look like quoting or comment escapes. Bind values are never spliced into SQL; the escape
 * screen is the profile's contract with delegators, kept as the vectors specify.
 */
export function bindNamedStatement(
  statement: NamedStatement,
  supplied: SuppliedParams,
  arrayForm: boolean,
  constrained: boolean,
): { ok: true; params: unknown[] } | { ok: false; code: StatementRejection; message: string } {
  const pinned = new Map(statement.fixedParams.map((f) => [f.index, f.value]));
  for (const [index, value] of supplied) {
    if (pinned.has(index) && !(arrayForm && value === null)) {
      return { ok: false, code: 'sql-fixed-param-override', message: `parameter ${index} is fixed by the capability` };
    }
  }
  for (const [index, value] of supplied) {
    if (pinned.has(index)) continue;
    if (value !== null && typeof value === 'object' && !(arrayForm && isByteArray(value))) {
      return { ok: false, code: 'sql-non-primitive-bind', message: `parameter ${index} must be a primitive value` };
    }
    if (constrained && typeof value === 'string' && looksLikeEscape(value)) {
      return { ok: false, code: 'sql-escape-blocked', message: `parameter ${index} contains quoting or comment characters` };
    }
  }
  const length = Math.max(-1, ...supplied.keys(), ...pinned.keys()) + 1;
  const params: unknown[] = [];
  for (let i = 0; i < length; i += 1) params.push(pinned.has(i) ? pinned.get(i) : (supplied.get(i) ?? null));
  return { ok: true, params };
}

const isByteArray = (value: object): boolean =>
  Array.isArray(value) && value.every((b) => Number.isInteger(b) && (b as number) >= 0 && (b as number) <= 255);

/** The profile's screen for non-fixed string binds: quotes, statement separators, comments, `OR 1=1`. */
export function looksLikeEscape(value: string): boolean {
  return /['";]|--|\/\*|\*\//.test(value) || /\bOR\s+1\s*=\s*1\b/i.test(value);
}
