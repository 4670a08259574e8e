import { mariadbAvailable, postgresAvailable, startMariadb, startPostgres, type DbServer } from './db-servers.js';

/**
 * Starts the real database servers the engine tests need, once per run, and hands their URLs to the tests
 * through the environment. In CI (CI=true) a missing server is an error; on a laptop without the Debian
 * packages, those tests report why they could not run.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const servers: DbServer[] = [];
  const start = async (name: string, available: boolean, starter: () => Promise<DbServer>, envName: string) => {
    if (!available) {
      if (process.env.CI) throw new Error(`${name} is required in CI but not installed; .ci/run installs it`);
      return;
    }
    const server = await starter();
    servers.push(server);
    process.env[envName] = server.url;
  };
  await start('PostgreSQL', postgresAvailable(), startPostgres, 'TINYCLOUD_TEST_POSTGRES_URL');
  await start('MariaDB', mariadbAvailable(), startMariadb, 'TINYCLOUD_TEST_MYSQL_URL');
  return async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
}
