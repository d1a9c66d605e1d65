// Reads new visits from a browser's history database. Browsers hold their database locked
// (Chromium even in exclusive mode), so the file is copied, together with its -wal/-journal,
// into a private temp dir and the copy is read; the copy is always deleted afterwards.
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import type { BrowserKind } from './profiles.js';

export interface HistoryVisit {
  /** Row id of the visit; the cursor. */
  id: number;
  url: string;
  visitTime: Date;
}

export interface VisitBatch {
  visits: HistoryVisit[];
  /** Highest visit id seen (including skipped synced visits); the next cursor. */
  cursor: number;
}

export class HistoryReadError extends Error {
  readonly code = 'HISTORY_READ_FAILED';
  constructor(
    message: string,
    readonly dbPath: string,
    /** The underlying error (carrying EACCES, SQLITE_CORRUPT, ...) when known. */
    cause?: unknown,
  ) {
    super(message, { cause });
  }

  /** True when the OS refused access, as opposed to a broken or half-copied file. */
  get isPermissionDenied(): boolean {
    const code = (this.cause as { code?: string } | undefined)?.code;
    return code === 'EACCES' || code === 'EPERM';
  }
}

// --- time bases -------------------------------------------------------------------------

const microsFrom1601To1970 = 11_644_473_600_000_000n;
const secondsFrom1970To2001 = 978_307_200;

/** Chromium `visit_time`: microseconds since 1601-01-01 UTC (exceeds 2^53, hence bigint). */
export function chromiumTimeToDate(micros: bigint | number): Date {
  return new Date(Number((BigInt(micros) - microsFrom1601To1970) / 1000n));
}

/** Firefox `visit_date`: microseconds since 1970-01-01 UTC. */
export function firefoxTimeToDate(micros: bigint | number): Date {
  return new Date(Number(BigInt(micros) / 1000n));
}

/** Safari `visit_time`: seconds (fractional) since 2001-01-01 UTC (Core Data reference date). */
export function safariTimeToDate(seconds: number): Date {
  return new Date(Math.round((seconds + secondsFrom1970To2001) * 1000));
}

// --- queries ----------------------------------------------------------------------------

interface KindQueries {
  maxId: string;
  visits(db: Database.Database): string;
  toDate(raw: unknown): Date;
}

const queries: Record<BrowserKind, KindQueries> = {
  chromium: {
    maxId: 'SELECT COALESCE(MAX(id), 0) AS maxId FROM visits',
    visits(db) {
      const columns = db.prepare('PRAGMA table_info(visits)').all() as { name: string }[];
      // Visits synced from the user's other devices did not happen on this machine.
      const local = columns.some((column) => column.name === 'originator_cache_guid')
        ? "AND (v.originator_cache_guid IS NULL OR v.originator_cache_guid = '')"
        : '';
      return `SELECT v.id AS id, u.url AS url, v.visit_time AS rawTime
        FROM visits v JOIN urls u ON u.id = v.url WHERE v.id > ? ${local} ORDER BY v.id LIMIT ?`;
    },
    toDate: (raw) => chromiumTimeToDate(raw as bigint),
  },
  firefox: {
    maxId: 'SELECT COALESCE(MAX(id), 0) AS maxId FROM moz_historyvisits',
    visits: () => `SELECT v.id AS id, p.url AS url, v.visit_date AS rawTime
      FROM moz_historyvisits v JOIN moz_places p ON p.id = v.place_id WHERE v.id > ? ORDER BY v.id LIMIT ?`,
    toDate: (raw) => firefoxTimeToDate(raw as bigint),
  },
  safari: {
    maxId: 'SELECT COALESCE(MAX(id), 0) AS maxId FROM history_visits',
    visits: () => `SELECT v.id AS id, i.url AS url, v.visit_time AS rawTime
      FROM history_visits v JOIN history_items i ON i.id = v.history_item WHERE v.id > ? ORDER BY v.id LIMIT ?`,
    toDate: (raw) => safariTimeToDate(Number(raw)),
  },
};

// --- private copy -----------------------------------------------------------------------

const companionSuffixes = ['-wal', '-journal'];

/** Copies the database and its companions into a fresh 0700 temp dir, runs `use`, deletes the dir. */
export async function withPrivateCopy<T>(
  dbPath: string,
  use: (copyPath: string) => T,
  tempRoot: string = tmpdir(),
): Promise<T> {
  const dir = await mkdtemp(join(tempRoot, 'vigil-history-'));
  try {
    const copyPath = join(dir, basename(dbPath));
    await copyFile(dbPath, copyPath);
    for (const suffix of companionSuffixes) {
      try {
        await copyFile(dbPath + suffix, copyPath + suffix);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    return use(copyPath);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Opens the private copy read-only. A copied rollback journal of a transaction in flight is
 * "hot" and a read-only connection refuses it (SQLITE_READONLY_ROLLBACK); then the copy — never
 * the browser's file — is opened writable once so SQLite rolls it back to the last commit.
 */
function openCopy(copyPath: string): Database.Database {
  try {
    const db = new Database(copyPath, { readonly: true, fileMustExist: true });
    db.prepare('SELECT 1 FROM sqlite_master LIMIT 1').get();
    return db;
  } catch (error) {
    if ((error as { code?: string }).code !== 'SQLITE_READONLY_ROLLBACK') throw error;
    new Database(copyPath, { fileMustExist: true }).prepare('SELECT 1 FROM sqlite_master LIMIT 1').get();
    return new Database(copyPath, { readonly: true, fileMustExist: true });
  }
}

export interface ReadOptions {
  /** Most visits returned per call; the rest come with the next call. */
  limit?: number;
  /** Where the private copy is made (default: the OS temp dir). */
  tempRoot?: string;
}

// A copy taken while the browser checkpoints can be torn; a fresh copy a moment later is not.
const attempts = 3;

async function withRetries<T>(dbPath: string, read: () => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      return await read();
    } catch (error) {
      lastError = error;
      const code = (error as { code?: string }).code;
      if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM') break;
      await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
    }
  }
  const reason = (lastError as Error | undefined)?.message ?? String(lastError);
  throw new HistoryReadError(`cannot read ${dbPath}: ${reason}`, dbPath, lastError);
}

/** Visits with id greater than `cursor`, oldest first. */
export async function readVisitsAfter(
  kind: BrowserKind,
  dbPath: string,
  cursor: number,
  options: ReadOptions = {},
): Promise<VisitBatch> {
  const limit = options.limit ?? 5000;
  const kindQueries = queries[kind];
  return withRetries(dbPath, () =>
    withPrivateCopy(
      dbPath,
      (copyPath) => {
        const db = openCopy(copyPath);
        try {
          const { maxId } = db.prepare(kindQueries.maxId).get() as { maxId: number };
          // Ids below the cursor only: the history was cleared and ids restarted, so start over.
          const from = maxId < cursor ? 0 : cursor;
          const rows = db.prepare(kindQueries.visits(db)).safeIntegers(true).all(BigInt(from), limit) as {
            id: bigint;
            url: string;
            rawTime: unknown;
          }[];
          const visits = rows.map((row) => ({
            id: Number(row.id),
            url: row.url,
            visitTime: kindQueries.toDate(row.rawTime),
          }));
          // Skipped synced visits still advance the cursor, but never past what was returned
          // when the page was full (the remainder comes next time).
          const lastReturned = visits.at(-1)?.id ?? from;
          const next = rows.length >= limit ? lastReturned : Math.max(from, maxId);
          return { visits, cursor: next };
        } finally {
          db.close();
        }
      },
      options.tempRoot,
    ),
  );
}

/** The newest visit id, used as the starting cursor so old history is not reported. */
export async function readMaxVisitId(
  kind: BrowserKind,
  dbPath: string,
  options: ReadOptions = {},
): Promise<number> {
  return withRetries(dbPath, () =>
    withPrivateCopy(
      dbPath,
      (copyPath) => {
        const db = openCopy(copyPath);
        try {
          return (db.prepare(queries[kind].maxId).get() as { maxId: number }).maxId;
        } finally {
          db.close();
        }
      },
      options.tempRoot,
    ),
  );
}
