// Event partitions: create the coming days' partitions ahead of time and drop whole days past the
// retention age. Each job runs in one transaction that first takes a transaction-scoped advisory
// lock without waiting, so when several collectors run it at once one does the work and the others
// skip that round.
import type { Db } from '../db/db.js';

/** Advisory lock keys of the two jobs (arbitrary, distinct from the migration lock). */
const PARTITION_LOCK = 746_202_005;
const RETENTION_LOCK = 746_202_006;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface JobOutcome<T> {
  /** false: another collector held the job's lock; nothing was done. */
  ran: boolean;
  result: T;
}

/** UTC calendar day of `time`, as YYYY-MM-DD. */
export function utcDay(time: Date): string {
  return time.toISOString().slice(0, 10);
}

/** Creates the partitions of `now`'s UTC day and the `daysAhead` days after it; returns those created. */
export async function ensureEventPartitions(
  db: Db,
  options: { daysAhead: number; now?: Date },
): Promise<JobOutcome<string[]>> {
  const now = options.now ?? new Date();
  return db.transaction(async (tx) => {
    const { rows: lock } = await tx.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS got', [
      PARTITION_LOCK,
    ]);
    if (!lock[0]?.got) return { ran: false, result: [] };
    const created: string[] = [];
    for (let offset = 0; offset <= options.daysAhead; offset++) {
      const day = utcDay(new Date(now.getTime() + offset * DAY_MS));
      const { rows } = await tx.query<{ created: boolean }>(
        'SELECT vigil_ensure_event_partition($1::date) AS created',
        [day],
      );
      if (rows[0]?.created) created.push(`events_p${day.replaceAll('-', '')}`);
    }
    return { ran: true, result: created };
  });
}

/**
 * Drops the day partitions whose whole day is older than `retentionDays` before `now`, and deletes
 * older stragglers from the default partition; returns the partitions dropped.
 */
export async function dropExpiredEventPartitions(
  db: Db,
  options: { retentionDays: number; now?: Date },
): Promise<JobOutcome<string[]>> {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - options.retentionDays * DAY_MS);
  return db.transaction(async (tx) => {
    const { rows: lock } = await tx.query<{ got: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS got', [
      RETENTION_LOCK,
    ]);
    if (!lock[0]?.got) return { ran: false, result: [] };
    const { rows } = await tx.query<{ part: string }>(
      'SELECT vigil_drop_event_partitions_before($1::timestamptz) AS part',
      [cutoff.toISOString()],
    );
    return { ran: true, result: rows.map((r) => r.part) };
  });
}

/** The partitions of `events` with their day, oldest first (for tests and the operator). */
export async function listEventPartitions(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'events'::regclass ORDER BY c.relname`,
  );
  return rows.map((r) => r.name);
}
