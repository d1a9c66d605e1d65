// Opening, checking and setting aside the spool's SQLite file. Kept apart from the queue logic so
// the corruption handling can be read (and reasoned about) on its own.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { SpoolCorruptError } from './errors.js';

export type SpoolDatabase = Database.Database;
export type Synchronous = 'normal' | 'full';

const SCHEMA_VERSION = 1;

// `seq` is the rowid, so insertion order is free. The partial index serves takeBatch
// (live first, then oldest) and the size cap (oldest pending per live class) without touching
// rows already in flight; the second one serves ack.
const schema = `
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  live INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  batch_id INTEGER,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_pending ON events (live DESC, seq) WHERE batch_id IS NULL;
CREATE INDEX IF NOT EXISTS events_in_flight ON events (batch_id) WHERE batch_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
`;

/** SQLite's way of saying the file is damaged or is not a database at all. */
export function isCorruption(error: unknown): boolean {
  if (error instanceof SpoolCorruptError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

/**
 * Opens (or creates) the spool file in WAL mode and verifies it. Throws a corruption error
 * (see `isCorruption`) when the file is not a database or fails `PRAGMA quick_check`;
 * quick_check verifies every page and record but skips the index-versus-table cross-check,
 * which would make start-up on a full 512 MiB spool several times slower. A mismatch it
 * misses surfaces later as SQLITE_CORRUPT and is handled the same way.
 */
export function openSpoolDatabase(path: string, synchronous: Synchronous): SpoolDatabase {
  const db = new Database(path);
  try {
    // Must precede table creation; a no-op on an existing file. Lets enforceCaps hand freed
    // pages back to the file system after a large drop.
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    // The WAL file keeps its high-water size after a checkpoint unless told otherwise.
    db.pragma('journal_size_limit = 67108864');
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new SpoolCorruptError(`spool integrity check failed: ${String(check)}`);
    db.exec(schema);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Best effort: how many events a damaged file still admits to holding, for the loss report. */
export function countEventsIn(path: string): number | undefined {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const count = db.prepare('SELECT count(*) FROM events').pluck().get();
      return typeof count === 'number' ? count : undefined;
    } finally {
      db.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * Renames the spool file and its WAL to `<file>.corrupt-<timestamp>` so a fresh one can be
 * created and the damaged one stays available for inspection. The shared-memory index is
 * derived data and is removed. Returns the new path of the main file.
 */
export function moveAside(path: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  let aside = `${path}.corrupt-${stamp}`;
  for (let n = 1; fs.existsSync(aside); n++) aside = `${path}.corrupt-${stamp}-${n}`;
  renameIfExists(path, aside);
  renameIfExists(`${path}-wal`, `${aside}-wal`);
  fs.rmSync(`${path}-shm`, { force: true });
  return aside;
}

function renameIfExists(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
