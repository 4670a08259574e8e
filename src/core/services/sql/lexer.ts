/**
 * The little SQL lexing this service does, and why it exists at all: SQLite runs some PRAGMAs while *compiling*
 * them (`PRAGMA query_only=1`, `PRAGMA writable_schema=1`, also under `EXPLAIN`, also after a leading `;`), so a
 * statement has to be recognised as a PRAGMA before it is ever prepared. Everything else is classified by
 * SQLite itself (see program.ts). Whitespace, comments and empty statements are skipped exactly as SQLite's
 * tokenizer does (sqlite3GetToken), so the two cannot disagree about where the first keyword is.
 */

export type Token =
  | { kind: 'word'; text: string }
  | { kind: 'quoted'; text: string }
  | { kind: 'punct'; text: string }
  | { kind: 'other'; text: string };

const SPACE = new Set([' ', '\t', '\n', '\f', '\r']);
const isIdChar = (c: string): boolean => /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) >= 0x80;

/** Index of the first character that is not whitespace, a comment, or (when `skipSemicolons`) a `;`. */
export function skipTrivia(sql: string, from = 0, skipSemicolons = false): number {
  let i = from;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (SPACE.has(c) || (skipSemicolons && c === ';')) {
      i += 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i + 2);
      i = end < 0 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else {
      break;
    }
  }
  return i;
}

/** The next token at or after `from`, or undefined at the end of the text. */
export function nextToken(sql: string, from: number, skipSemicolons = false): { token: Token; end: number } | undefined {
  const i = skipTrivia(sql, from, skipSemicolons);
  if (i >= sql.length) return undefined;
  const c = sql[i] as string;
  if (isIdChar(c) && !/[0-9$]/.test(c)) {
    let j = i + 1;
    while (j < sql.length && isIdChar(sql[j] as string)) j += 1;
    return { token: { kind: 'word', text: sql.slice(i, j) }, end: j };
  }
  const close = c === '"' ? '"' : c === '`' ? '`' : c === '[' ? ']' : c === "'" ? "'" : undefined;
  if (close) {
    let j = i + 1;
    let text = '';
    for (;;) {
      if (j >= sql.length) return { token: { kind: 'other', text: sql.slice(i) }, end: sql.length };
      const d = sql[j] as string;
      if (d === close) {
        if (close !== ']' && sql[j + 1] === close) {
          text += close;
          j += 2;
          continue;
        }
        break;
      }
      text += d;
      j += 1;
    }
    return { token: { kind: c === "'" ? 'other' : 'quoted', text }, end: j + 1 };
  }
  if ('=().;,+-'.includes(c)) return { token: { kind: 'punct', text: c }, end: i + 1 };
  let j = i + 1;
  while (j < sql.length && !SPACE.has(sql[j] as string) && !'=().;,'.includes(sql[j] as string)) j += 1;
  return { token: { kind: 'other', text: sql.slice(i, j) }, end: j };
}

/** The statement's first keyword, upper-cased (`SELECT`, `PRAGMA`, …), or undefined for an empty string. */
export function leadingKeyword(sql: string): string | undefined {
  const first = nextToken(sql, 0, true);
  return first?.token.kind === 'word' ? first.token.text.toUpperCase() : undefined;
}

export interface PragmaStatement {
  /** Lower-case pragma name, dequoted. */
  name: string;
  /** `main`, `temp`, an attached name, or undefined when not qualified. */
  schema?: string;
  /** `=` value or `(` value `)`; undefined for a bare read. */
  form: 'read' | 'assign' | 'call';
}

/**
 * `PRAGMA [schema.]name [= value | (value)]`. Returns undefined for anything that is not exactly that shape,
 * which the caller refuses: an unparseable PRAGMA is never handed to SQLite.
 */
export function parsePragma(sql: string): PragmaStatement | undefined {
  let at = nextToken(sql, 0, true);
  if (!at || at.token.kind !== 'word' || at.token.text.toUpperCase() !== 'PRAGMA') return undefined;
  const name1 = nextToken(sql, at.end);
  if (!name1 || (name1.token.kind !== 'word' && name1.token.kind !== 'quoted')) return undefined;
  let name = name1.token.text;
  let schema: string | undefined;
  at = name1;
  let next = nextToken(sql, at.end);
  if (next?.token.kind === 'punct' && next.token.text === '.') {
    const name2 = nextToken(sql, next.end);
    if (!name2 || (name2.token.kind !== 'word' && name2.token.kind !== 'quoted')) return undefined;
    schema = name.toLowerCase();
    name = name2.token.text;
    at = name2;
    next = nextToken(sql, at.end);
  }
  let form: PragmaStatement['form'] = 'read';
  if (next && next.token.kind === 'punct' && next.token.text === '=') {
    form = 'assign';
  } else if (next && next.token.kind === 'punct' && next.token.text === '(') {
    form = 'call';
  } else if (next && !(next.token.kind === 'punct' && next.token.text === ';')) {
    return undefined;
  }
  return { name: name.toLowerCase(), schema, form };
}
