import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';

export type ServerKind = 'postgres' | 'mysql';

/**
 * The database servers global-setup started, by name and kind, with their URL (undefined when that server is
 * not installed: the suite's tests are then skipped).
 */
export const serverEngines: ['PostgreSQL' | 'MariaDB', ServerKind, string | undefined][] = [
  ['PostgreSQL', 'postgres', process.env.TINYCLOUD_TEST_POSTGRES_URL],
  ['MariaDB', 'mysql', process.env.TINYCLOUD_TEST_MYSQL_URL],
];

/** Every metadata DB engine a suite can run on: SQLite at `sqliteUrl`, then the servers (URL undefined if absent). */
export function metadataEngines(sqliteUrl: string): [string, string | undefined][] {
  return [['SQLite', sqliteUrl], ...serverEngines.map(([name, , url]): [string, string | undefined] => [name, url])];
}

/** A database of its own (`<prefix><random>`) on a shared server, so its rows never meet another suite's. */
export async function freshDatabase(kind: ServerKind, serverUrl: string, prefix: string): Promise<string> {
  const name = `${prefix}${randomBytes(6).toString('hex')}`;
  const url = new URL(serverUrl);
  if (kind === 'postgres') {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(`CREATE DATABASE ${name}`);
    await client.end();
  } else {
    const connection = await createConnection({ uri: serverUrl });
    await connection.query(`CREATE DATABASE ${name}`);
    await connection.end();
  }
  url.pathname = `/${name}`;
  return url.toString();
}
