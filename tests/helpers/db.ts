// Real databases for tests: a fresh PostgreSQL database per call (on DATABASE_URL's server, or the
// local one), and a fresh embedded PGlite in a temp directory. Nothing is mocked.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { freshDatabase } from '../../bench/support.js';
import { type Db, openEmbedded, openPostgres } from '../../collector/db/db.js';
import { loadMigrations, migrate } from '../../collector/db/migrate.js';

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function postgresAvailable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    if (process.env.CI) throw new Error(`PostgreSQL is required in CI and is not reachable at ${adminUrl}`);
    console.warn(`skipping PostgreSQL tests: no server at ${adminUrl}`);
    return false;
  }
}

/** Creates an empty database and returns its URL and a function that drops it. */
export const freshPostgres = () => freshDatabase(adminUrl, 'vigil_t');

export interface TestDb {
  db: Db;
  /** Directory for the collector's data (tokens, PGlite files). */
  dataDir: string;
  databaseUrl?: string;
  close: () => Promise<void>;
}

export type Engine = 'postgres' | 'pglite';

/**
 * A dump of an embedded database with every migration applied, made once per set of migrations
 * and shared by all test files: loading it is several times faster than initdb + migrating.
 */
async function pgliteTemplate(): Promise<Blob> {
  const migrations = loadMigrations();
  const key = createHash('sha256')
    .update(migrations.map((m) => m.sql).join('\n'))
    .digest('hex')
    .slice(0, 16);
  const file = join(tmpdir(), `vigil-pglite-template-${key}.tar`);
  if (!existsSync(file)) {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-template-'));
    const db = await openEmbedded(dir);
    await migrate(db, migrations);
    await db.close();
    const lite = await PGlite.create(join(dir, 'db'));
    const dump = await lite.dumpDataDir('none');
    await lite.close();
    writeFileSync(`${file}.${process.pid}`, Buffer.from(await dump.arrayBuffer()));
    renameSync(`${file}.${process.pid}`, file);
    rmSync(dir, { recursive: true, force: true });
  }
  return new Blob([readFileSync(file)]);
}

export async function openTestDb(engine: Engine): Promise<TestDb> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-test-'));
  if (engine === 'pglite') {
    const db = await openEmbedded(dataDir, { loadDataDir: await pgliteTemplate() });
    return {
      db,
      dataDir,
      close: async () => {
        await db.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const { url, drop } = await freshPostgres();
  const db = openPostgres(url);
  return {
    db,
    dataDir,
    databaseUrl: url,
    close: async () => {
      await db.close();
      await drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The engines to run storage tests on: both, unless PostgreSQL is absent on a developer machine. */
export const engines: Engine[] = (await postgresAvailable()) ? ['postgres', 'pglite'] : ['pglite'];
