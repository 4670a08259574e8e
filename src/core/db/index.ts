export { writeTransaction } from './write-transaction.js';
export { openMetadataDb, isDatabaseHealthy, redactUrl, type MetadataDb } from './database.js';
export type { Database } from './schema.js';
export type { Engine } from './dialect.js';
