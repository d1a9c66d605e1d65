// A private PostgreSQL cluster for tests that restart the server: the shared one on :5432 stays
// untouched for every other test running at the same time.
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivateCluster {
  url: string;
  restart(): void;
  stop(): void;
}

function binDir(): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

export function startPrivateCluster(port: number): PrivateCluster {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  const root = process.getuid?.() === 0;
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  // initdb refuses to run as root: run the server tools as the postgres user.
  const run = (tool: string, ...args: string[]) =>
    execFileSync(
      root ? 'runuser' : join(binDir(), tool),
      root ? ['-u', 'postgres', '--', join(binDir(), tool), ...args] : args,
      {
        stdio: 'pipe',
      },
    );
  const data = join(dir, 'data');
  run('initdb', '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync');
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const pgCtl = (...args: string[]) =>
    run('pg_ctl', '-D', data, '-l', join(dir, 'log'), '-o', options, '-w', ...args);
  pgCtl('start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    restart: () => pgCtl('restart', '-m', 'fast'),
    stop: () => {
      try {
        pgCtl('stop', '-m', 'immediate');
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
