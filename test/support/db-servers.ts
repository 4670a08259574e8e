import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Real PostgreSQL and MariaDB servers for the migration tests, started from the Debian packages that
 * `.ci/run` installs (`postgresql`, `mariadb-server`), each on a free loopback port in a temp dir.
 */
export interface DbServer {
  url: string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  return version ? path.join(root, version, 'bin') : undefined;
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not start within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const postgresAvailable = (): boolean => postgresBin() !== undefined;
export const mariadbAvailable = (): boolean => existsSync('/usr/sbin/mariadbd') && existsSync('/usr/bin/mariadb-install-db');

export async function startPostgres(): Promise<DbServer> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const dir = mkdtempSync(path.join(tmpdir(), 'tinycloud-pg-'));
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asPostgres.length) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const run = (cmd: string, args: string[]) => {
    const [head, ...rest] = [...asPostgres, path.join(bin, cmd), ...args];
    execFileSync(head!, rest, { stdio: 'pipe' });
  };
  const port = await freePort();
  run('initdb', ['-D', path.join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  run('pg_ctl', ['-D', path.join(dir, 'data'), '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      try {
        run('pg_ctl', ['-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export async function startMariadb(): Promise<DbServer> {
  if (!mariadbAvailable()) throw new Error('MariaDB is not installed (apt-get install mariadb-server)');
  const dir = mkdtempSync(path.join(tmpdir(), 'tinycloud-mariadb-'));
  const port = await freePort();
  // mariadb-install-db has been seen to crash under heavy load; a fresh attempt succeeds.
  for (let attempt = 1; ; attempt += 1) {
    try {
      rmSync(`${dir}/data`, { recursive: true, force: true });
      execFileSync('mariadb-install-db', ['--no-defaults', '--user=root', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal', '--skip-test-db'], { stdio: 'pipe' });
      break;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
  const child: ChildProcess = spawn(
    '/usr/sbin/mariadbd',
    ['--no-defaults', '--user=root', `--datadir=${dir}/data`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${dir}/sock`, `--pid-file=${dir}/pid`, '--skip-grant-tables', '--innodb-flush-log-at-trx-commit=0'],
    { stdio: 'ignore' },
  );
  await waitFor(() => existsSync(`${dir}/sock`), 'MariaDB');
  execFileSync('mariadb', [`--socket=${dir}/sock`, '-e', 'CREATE DATABASE tinycloud'], { stdio: 'pipe' });
  return {
    url: `mysql://root@127.0.0.1:${port}/tinycloud`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
