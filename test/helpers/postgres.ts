// A throwaway PostgreSQL cluster for tests: initdb in a temporary directory, pg_ctl start on a free
// loopback port, stopped and removed by stop() (and, should the test process exit without calling
// it, by an exit hook, so no server is left running). As root, initdb and the server run as the
// `postgres` user (initdb refuses root). Missing server binaries fail loudly: these tests must not
// pass by skipping.
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from './run-process.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface PgCluster {
  /** Connection string of the `postgres` database, as the `postgres` superuser (trust auth on loopback). */
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly bin: string;
  /** Creates a fresh database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL as the superuser in the database at `url` (default: the postgres database). */
  sql<R extends pg.QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: unknown[],
    url?: string,
  ): Promise<R[]>;
  /** Stops the server but keeps its data, to see how clients cope with an outage; restartServer() brings it back. */
  stopServer(): Promise<void>;
  restartServer(): Promise<void>;
  /** Stops the server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

const versionOf = (dir: string): number => Number(/(\d+)/.exec(dir)?.[1] ?? 0);

/** The directory holding initdb and pg_ctl: $FLEXLON_PG_BIN, the newest /usr/lib/postgresql/N/bin, or PATH. */
export const findPostgresBin = (): string => {
  const has = (dir: string) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'));
  const fromEnv = process.env.FLEXLON_PG_BIN;
  if (fromEnv) {
    if (has(fromEnv)) return fromEnv;
    throw new Error(`FLEXLON_PG_BIN=${fromEnv} does not hold initdb and pg_ctl`);
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .map((v) => join(root, v, 'bin'))
        .filter(has)
        .sort((a, b) => versionOf(b) - versionOf(a))
    : [];
  if (versions[0]) return versions[0];
  const onPath = (process.env.PATH ?? '').split(':').find((d) => d !== '' && has(d));
  if (onPath) return onPath;
  throw new Error(
    'PostgreSQL server binaries (initdb, pg_ctl) were not found in $FLEXLON_PG_BIN, /usr/lib/postgresql/*/bin or PATH. ' +
      'Install them (Debian: apt-get install -y --no-install-recommends postgresql; .ci/run does this) or set FLEXLON_PG_BIN.',
  );
};

/** How to run a server binary: as `postgres` via runuser when we are root, directly otherwise. */
const asServerUser = (dir: string): ((bin: string, args: string[]) => [string, string[]]) => {
  if (process.getuid?.() !== 0) return (bin, args) => [bin, args];
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0)
    throw new Error(
      'running as root, but there is no `postgres` user to run the PostgreSQL server as (initdb refuses root)',
    );
  chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
  return (bin, args) => ['runuser', ['-u', 'postgres', '--', bin, ...args]];
};

export interface StartOptions {
  /** fsync on (for measurements); off by default, which is safe for throwaway data and much faster. */
  readonly durable?: boolean;
}

export const startPostgres = async (o: StartOptions = {}): Promise<PgCluster> => {
  const bin = findPostgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'flexlon-pg-'));
  const data = join(dir, 'data');
  const as = asServerUser(dir);
  const exec = async (name: string, args: string[]): Promise<void> => {
    const [cmd, argv] = as(join(bin, name), args);
    try {
      await run(cmd, argv, { cwd: dir });
    } catch (e) {
      const log = existsSync(join(dir, 'pg.log')) ? readFileSync(join(dir, 'pg.log'), 'utf8').slice(-2000) : '';
      throw new Error(`${name} failed: ${(e as Error).message}\n${log}`, { cause: e });
    }
  };
  const stopSync = (): void => {
    const [cmd, argv] = as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
    spawnSync(cmd, argv, { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stopSync);
  try {
    await exec('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
    const fast = o.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
    let port = 0;
    const startServer = () =>
      exec('pg_ctl', [
        '-D',
        data,
        '-l',
        join(dir, 'pg.log'),
        '-w',
        '-t',
        '30',
        '-o',
        `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=100${fast}`,
        'start',
      ]);
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        await startServer();
        break;
      } catch (e) {
        if (attempt >= 3) throw e; // the port was taken between finding it and binding it
      }
    }
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    const sql = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = [], at = url): Promise<R[]> => {
      const client = new pg.Client({ connectionString: at });
      await client.connect();
      try {
        return (await client.query<R>(text, values)).rows;
      } finally {
        await client.end();
      }
    };
    let stopped = false;
    return {
      url,
      port,
      dir,
      bin,
      sql,
      stopServer: () => exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']),
      restartServer: startServer,
      createDatabase: async (name) => {
        await sql(`CREATE DATABASE ${name}`);
        return `postgresql://postgres@127.0.0.1:${port}/${name}`;
      },
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
        process.removeListener('exit', stopSync);
        stopSync();
      },
    };
  } catch (e) {
    process.removeListener('exit', stopSync);
    stopSync();
    throw e;
  }
};
