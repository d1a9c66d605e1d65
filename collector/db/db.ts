// One small database interface over both engines: a pg Pool on DATABASE_URL, or embedded PGlite
// in the data directory. Everything above this file speaks plain SQL to `Db`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import lockfile from 'proper-lockfile';
import { DataDirLockedError } from '../errors.js';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Runs several statements separated by semicolons, without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** Connection pool use, for metrics (pg only). */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface Db extends Queryable {
  readonly kind: 'pg' | 'pglite';
  /** pg only: where a dedicated connection (LISTEN) connects to. */
  readonly connectionString?: string;
  /** pg only: pool use right now. */
  stats?(): PoolStats;
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// int8 (counts, sums) arrive as strings from pg by default; they fit in a double for our uses.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export function openPostgres(connectionString: string, options: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
  // An idle client losing its server (restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  return {
    kind: 'pg',
    connectionString,
    stats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    async query<R>(sql: string, params?: unknown[]) {
      const result = await pool.query(sql, params as unknown[]);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          async query<R>(sql: string, params?: unknown[]) {
            const result = await client.query(sql, params as unknown[]);
            return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
          },
          async exec(sql: string) {
            await client.query(sql);
          },
        };
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async close() {
      await pool.end();
    },
  };
}

/** Opens embedded PGlite under `<dataDir>/db`, holding a lock so a second process refuses to start. */
export async function openEmbedded(
  dataDir: string,
  options: { loadDataDir?: Blob; onLockWait?: (message: string) => void } = {},
): Promise<Db> {
  const dbDir = join(dataDir, 'db');
  mkdirSync(dbDir, { recursive: true });
  const lockfilePath = join(dataDir, 'collector.lock');
  const stale = 10_000;
  const isLocked = (err: unknown) => (err as { code?: string }).code === 'ELOCKED';
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dataDir, { lockfilePath, stale, retries: 0 });
  } catch (err) {
    if (!isLocked(err)) throw err;
    // The holder refreshes the lock every few seconds; after a crash it goes stale, so a restart
    // waits that out instead of refusing, while a live second process is still refused.
    options.onLockWait?.(
      `the data directory ${dataDir} is locked by another vigil-collector; waiting up to ${(stale + 5000) / 1000} s in case that process crashed`,
    );
    try {
      release = await lockfile.lock(dataDir, {
        lockfilePath,
        stale,
        retries: { retries: 14, factor: 1, minTimeout: 1000, maxTimeout: 1000 },
      });
    } catch (retryErr) {
      if (isLocked(retryErr)) throw new DataDirLockedError(dataDir);
      throw retryErr;
    }
  }
  // loadDataDir seeds an empty directory from a dump (tests start from a migrated template).
  const lite = await PGlite.create(dbDir, {
    // PostgreSQL's default 128 MB of shared buffers lives in the WebAssembly heap, which never
    // shrinks; one embedded connection does with 32 MB (measured: resident memory 308 → 205 MB).
    startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=32MB'],
    ...(options.loadDataDir && { loadDataDir: options.loadDataDir }),
  });
  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<R>(sql: string, params?: unknown[]) {
      const result = await q.query<R>(sql, params as unknown[]);
      // PGlite reports affectedRows 0 for a SELECT: count the rows returned then (pg's rowCount does).
      return { rows: result.rows, rowCount: Math.max(result.affectedRows ?? 0, result.rows.length) };
    },
    async exec(sql: string) {
      await q.exec(sql);
    },
  });
  const direct = wrap(lite);
  return {
    kind: 'pglite',
    query: direct.query,
    exec: direct.exec,
    transaction: (fn) => lite.transaction((tx) => fn(wrap(tx))),
    async close() {
      await lite.close();
      await release();
    },
  };
}
