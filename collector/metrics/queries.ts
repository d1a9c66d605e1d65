// The database side of /metrics: fleet backlog and presence, and the notification outbox when its
// tables exist (they come with the notify migration; a database without them reports none).
import type { Queryable } from '../db/db.js';

export interface DatabaseGauges {
  backlog: number;
  agentsByPresence: Record<string, number>;
  outbox?: { pending: number; lagSeconds: number; dead: number; failedAttempts: number };
}

export async function readDatabaseGauges(db: Queryable): Promise<DatabaseGauges> {
  const { rows: fleet } = await db.query<{ presence: string; agents: number; backlog: number }>(
    `SELECT presence, count(*)::int AS agents,
            coalesce(sum(spool_depth) FILTER (WHERE presence = 'online'), 0)::bigint AS backlog
       FROM agents GROUP BY presence`,
  );
  const gauges: DatabaseGauges = {
    backlog: fleet.reduce((sum, row) => sum + Number(row.backlog), 0),
    agentsByPresence: Object.fromEntries(fleet.map((row) => [row.presence, row.agents])),
  };
  const { rows: tables } = await db.query<{ outbox: boolean; attempts: boolean }>(
    `SELECT to_regclass('notify_outbox') IS NOT NULL AS outbox, to_regclass('notify_attempts') IS NOT NULL AS attempts`,
  );
  if (!tables[0]?.outbox) return gauges;
  const { rows } = await db.query<{ pending: number; lag: number; dead: number }>(
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
            coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE status = 'pending' AND next_attempt_at <= now())), 0)::float8 AS lag,
            count(*) FILTER (WHERE status = 'dead')::int AS dead
       FROM notify_outbox`,
  );
  const failed = tables[0]?.attempts
    ? (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM notify_attempts WHERE outcome = 'failed'`,
        )
      ).rows[0]?.n
    : 0;
  gauges.outbox = {
    pending: rows[0]?.pending ?? 0,
    lagSeconds: rows[0]?.lag ?? 0,
    dead: rows[0]?.dead ?? 0,
    failedAttempts: failed ?? 0,
  };
  return gauges;
}
