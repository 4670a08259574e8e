export { SqlService, type SqlEventSource, type SqlInvocation, type SqlResponse, type SqlServiceOptions } from './service.js';
export { SqlDatabasePool, type PoolOptions } from './pool.js';
export { parseSqlRequest, MAX_REQUEST_BYTES, type SqlRequest } from './request.js';
export { sqlTargetOf, isSqlCapability, registerSqlCaveatRule, SQL_CAVEAT_RULE, SQL_CAVEATS_FACT, type SqlTarget } from './grants.js';
export { parseSqlCaveat, sqlCaveatContains, bindNamedStatement, suppliedParams, type SqlCaveat, type StatementRejection } from './caveats.js';
export { abilityAllows, type SqlGrant } from './authorize.js';
export { databaseFile, databaseName, safeName } from './files.js';
