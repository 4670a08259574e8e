import { TinyCloudError } from '../../errors.js';

export interface SqlStatementInput {
  sql: string;
  params: unknown;
}

/** The request bodies of WIRE §5, tagged by `action`. `params` are validated where they are bound. */
export type SqlRequest =
  | { action: 'query'; sql: string; params: unknown; maxRows?: number; maxBytes?: number }
  | { action: 'execute'; sql: string; params: unknown; schema?: string[] }
  | { action: 'batch'; statements: SqlStatementInput[] }
  | { action: 'executeStatement'; name: string; params: unknown }
  | { action: 'export' };

export const MAX_REQUEST_BYTES = 1024 * 1024;
const MAX_ROWS = 1000;
const MAX_BYTES = 4 * 1024 * 1024;

const bad = (message: string) => new TinyCloudError('BAD_REQUEST', message);

function boundedInteger(value: unknown, name: string, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > max) throw bad(`${name} must be an integer from 1 to ${max}`);
  return value as number;
}

function sqlText(value: unknown, name: string): string {
  if (typeof value !== 'string') throw bad(`${name} must be a string`);
  return value;
}

/** Validates a parsed JSON body; `execute_statement` (the SDK's spelling) is accepted for `executeStatement`. */
export function parseSqlRequest(body: unknown): SqlRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('SQL request body must be a JSON object');
  const b = body as Record<string, unknown>;
  switch (b.action) {
    case 'query':
      return {
        action: 'query',
        sql: sqlText(b.sql, 'sql'),
        params: b.params,
        maxRows: boundedInteger(b.maxRows, 'maxRows', MAX_ROWS),
        maxBytes: boundedInteger(b.maxBytes, 'maxBytes', MAX_BYTES),
      };
    case 'execute': {
      let schema: string[] | undefined;
      if (b.schema !== undefined && b.schema !== null) {
        if (!Array.isArray(b.schema)) throw bad('schema must be an array of SQL strings');
        schema = b.schema.map((s, i) => sqlText(s, `schema[${i}]`));
      }
      return { action: 'execute', sql: sqlText(b.sql, 'sql'), params: b.params, schema };
    }
    case 'batch': {
      if (!Array.isArray(b.statements)) throw bad('statements must be an array');
      const statements = b.statements.map((s: unknown, i) => {
        if (typeof s !== 'object' || s === null) throw bad(`statements[${i}] must be an object`);
        const { sql, params } = s as Record<string, unknown>;
        return { sql: sqlText(sql, `statements[${i}].sql`), params };
      });
      return { action: 'batch', statements };
    }
    case 'executeStatement':
    case 'execute_statement':
      if (typeof b.name !== 'string' || b.name.length === 0) throw bad('name must be a non-empty string');
      return { action: 'executeStatement', name: b.name, params: b.params };
    case 'export':
      return { action: 'export' };
    default:
      throw bad('action must be one of query, execute, batch, executeStatement, export');
  }
}
