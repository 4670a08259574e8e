import type { PragmaStatement } from './lexer.js';

/** Pragmas whose argument names an object or a mode of a one-off operation, never a connection setting. */
const WITH_ARGUMENT = new Set([
  'table_info',
  'table_xinfo',
  'table_list',
  'index_list',
  'index_info',
  'index_xinfo',
  'foreign_key_list',
  'foreign_key_check',
  'integrity_check',
  'quick_check',
  'wal_checkpoint',
  'incremental_vacuum',
  'optimize',
]);

/** Settings an admin may read but not change: changing them would alter the shared connection or the file format. */
const READ_ONLY = new Set([
  'page_count',
  'page_size',
  'freelist_count',
  'schema_version',
  'data_version',
  'encoding',
  'auto_vacuum',
  'foreign_keys',
  'journal_mode',
  'synchronous',
  'collation_list',
  'function_list',
  'module_list',
  'pragma_list',
  'compile_options',
]);

/** Values stored in the database header for applications; setting them is an ordinary (evented) write. */
const ASSIGNABLE = new Set(['user_version', 'application_id']);

/**
 * Why an admin may not run this PRAGMA, or undefined when it is allowed. Everything not named above is refused:
 * connection switches (`query_only`, `writable_schema`, `foreign_keys=…`, `synchronous=…`, `journal_mode=…`)
 * would change what every later holder's statement may do on the shared connection, and `database_list`
 * reveals server paths.
 */
export function pragmaRefusal(pragma: PragmaStatement): string | undefined {
  if (pragma.schema !== undefined && pragma.schema !== 'main') return `PRAGMA on schema ${pragma.schema} is not allowed`;
  if (WITH_ARGUMENT.has(pragma.name)) return undefined;
  if (READ_ONLY.has(pragma.name)) return pragma.form === 'read' ? undefined : `PRAGMA ${pragma.name} may only be read`;
  if (ASSIGNABLE.has(pragma.name)) return undefined;
  return `PRAGMA ${pragma.name} is not allowed`;
}
