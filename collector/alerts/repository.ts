// SQL for alerts. Deduplication lives in the database: a partial unique index allows one open
// alert per rule+agent+entity, so concurrent ingests (or two collectors) cannot create twins.
import type { Queryable } from '../db/db.js';

export type Level = 'informational' | 'low' | 'medium' | 'high' | 'critical';
export const levels: Level[] = ['informational', 'low', 'medium', 'high', 'critical'];
export type AlertStatus = 'open' | 'acknowledged' | 'resolved' | 'false_positive';

export interface AlertMatch {
  ruleId: string;
  ruleTitle: string;
  level: Level;
  tags: string[];
  agentId: string;
  entity: string;
  eventId: string;
  eventTime: Date;
  evidence: Record<string, unknown>;
}

export interface Alert {
  id: string;
  ruleId: string;
  ruleTitle: string;
  level: Level;
  tags: string[];
  agentId: string;
  hostname: string;
  entity: string;
  status: AlertStatus;
  count: number;
  firstSeen: string;
  lastSeen: string;
  evidence: Record<string, unknown>;
}

/** Records one match: bumps the open alert of its key inside the window, or opens a new one. */
export async function recordMatch(
  tx: Queryable,
  match: AlertMatch,
  windowMs: number,
): Promise<{ alertId: string; created: boolean }> {
  const dedupKey = `${match.ruleId}|${match.agentId}|${match.entity}`;
  // A key whose alert went quiet for longer than the window, or was closed, starts afresh.
  await tx.query(
    `UPDATE alerts SET dedup_open = false
      WHERE dedup_key = $1 AND dedup_open
        AND (last_seen < $2::timestamptz - make_interval(secs => $3) OR status IN ('resolved', 'false_positive'))`,
    [dedupKey, match.eventTime, windowMs / 1000],
  );
  const { rows } = await tx.query<{ id: string; created: boolean }>(
    `INSERT INTO alerts (rule_id, rule_title, level, tags, agent_id, entity, dedup_key, first_seen, last_seen,
                         last_event_id, evidence)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)
     ON CONFLICT (dedup_key) WHERE dedup_open DO UPDATE SET
       count = alerts.count + 1,
       first_seen = LEAST(alerts.first_seen, EXCLUDED.first_seen),
       last_seen = GREATEST(alerts.last_seen, EXCLUDED.last_seen),
       last_event_id = CASE WHEN EXCLUDED.last_seen >= alerts.last_seen THEN EXCLUDED.last_event_id ELSE alerts.last_event_id END,
       evidence = CASE WHEN EXCLUDED.last_seen >= alerts.last_seen THEN EXCLUDED.evidence ELSE alerts.evidence END,
       updated_at = now()
     RETURNING id, (xmax = 0) AS created`,
    [
      match.ruleId,
      match.ruleTitle,
      match.level,
      match.tags,
      match.agentId,
      match.entity,
      dedupKey,
      match.eventTime,
      match.eventId,
      JSON.stringify(match.evidence),
    ],
  );
  const row = rows[0]!;
  await tx.query('INSERT INTO alert_events (alert_id, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
    row.id,
    match.eventId,
  ]);
  return { alertId: row.id, created: row.created };
}

const alertColumns = `a.id, a.rule_id, a.rule_title, a.level, a.tags, a.agent_id, g.hostname, a.entity, a.status,
  a.count, a.first_seen, a.last_seen, a.evidence`;

interface AlertRow {
  id: string;
  rule_id: string;
  rule_title: string;
  level: Level;
  tags: string[];
  agent_id: string;
  hostname: string;
  entity: string;
  status: AlertStatus;
  count: number;
  first_seen: Date;
  last_seen: Date;
  evidence: Record<string, unknown>;
}

const toAlert = (row: AlertRow): Alert => ({
  id: row.id,
  ruleId: row.rule_id,
  ruleTitle: row.rule_title,
  level: row.level,
  tags: row.tags,
  agentId: row.agent_id,
  hostname: row.hostname,
  entity: row.entity,
  status: row.status,
  count: row.count,
  firstSeen: new Date(row.first_seen).toISOString(),
  lastSeen: new Date(row.last_seen).toISOString(),
  evidence: row.evidence,
});

export interface AlertFilter {
  status?: AlertStatus;
  level?: Level;
  ruleId?: string;
  agentId?: string;
  limit: number;
  /** Cursor: continue after this (lastSeen, id). */
  after?: { lastSeen: string; id: string };
}

export async function listAlerts(db: Queryable, filter: AlertFilter): Promise<Alert[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.status) add('a.status = ?', filter.status);
  if (filter.level) add('a.level = ?', filter.level);
  if (filter.ruleId) add('a.rule_id = ?', filter.ruleId);
  if (filter.agentId) add('a.agent_id = ?', filter.agentId);
  if (filter.after) {
    params.push(filter.after.lastSeen, filter.after.id);
    where.push(`(a.last_seen, a.id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(filter.limit);
  const { rows } = await db.query<AlertRow>(
    `SELECT ${alertColumns} FROM alerts a JOIN agents g ON g.id = a.agent_id
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY a.last_seen DESC, a.id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toAlert);
}

export async function getAlert(
  db: Queryable,
  id: string,
): Promise<(Alert & { eventIds: string[] }) | undefined> {
  const { rows } = await db.query<AlertRow>(
    `SELECT ${alertColumns} FROM alerts a JOIN agents g ON g.id = a.agent_id WHERE a.id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return undefined;
  const events = await db.query<{ event_id: string }>(
    'SELECT event_id FROM alert_events WHERE alert_id = $1 ORDER BY event_id DESC LIMIT 100',
    [id],
  );
  return { ...toAlert(row), eventIds: events.rows.map((r) => r.event_id) };
}
