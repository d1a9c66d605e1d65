// SQL for alert exceptions: a rule's matches that should not open or bump alerts, scoped to the
// whole fleet, a group or an agent, optionally narrowed by field values. Suppressed matches are
// counted on the exception (hits, last_hit); their events stay stored.
import type { Queryable } from '../db/db.js';

export type ExceptionScope = 'rule' | 'group' | 'agent';
export const exceptionScopes: ExceptionScope[] = ['rule', 'group', 'agent'];

export interface AlertException {
  id: string;
  ruleId: string;
  scope: ExceptionScope;
  groupId: string | null;
  agentId: string | null;
  fields: Record<string, string>;
  reason: string;
  sourceAlertId: string | null;
  createdBy: { id: string; username: string };
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  hits: number;
  lastHit: string | null;
}

interface ExceptionRow {
  id: string;
  rule_id: string;
  scope: ExceptionScope;
  group_id: string | null;
  agent_id: string | null;
  fields: Record<string, string>;
  reason: string;
  source_alert_id: string | null;
  created_by: string;
  username: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  hits: number;
  last_hit: Date | null;
}

const iso = (value: Date | null): string | null => (value ? new Date(value).toISOString() : null);

const toException = (row: ExceptionRow): AlertException => ({
  id: row.id,
  ruleId: row.rule_id,
  scope: row.scope,
  groupId: row.group_id,
  agentId: row.agent_id,
  fields: row.fields,
  reason: row.reason,
  sourceAlertId: row.source_alert_id,
  createdBy: { id: row.created_by, username: row.username },
  createdAt: new Date(row.created_at).toISOString(),
  expiresAt: iso(row.expires_at),
  revokedAt: iso(row.revoked_at),
  hits: Number(row.hits),
  lastHit: iso(row.last_hit),
});

const exceptionSelect = `SELECT x.id, x.rule_id, x.scope, x.group_id, x.agent_id, x.fields, x.reason, x.source_alert_id,
  x.created_by, u.username, x.created_at, x.expires_at, x.revoked_at, x.hits, x.last_hit
  FROM alert_exceptions x JOIN users u ON u.id = x.created_by`;

const bumpVersion = (tx: Queryable) =>
  tx.query('UPDATE alert_exceptions_version SET version = version + 1 WHERE id = 1');

export async function currentExceptionsVersion(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ version: number }>(
    'SELECT version FROM alert_exceptions_version WHERE id = 1',
  );
  return Number(rows[0]?.version ?? 0);
}

export interface NewException {
  ruleId: string;
  scope: ExceptionScope;
  groupId: string | null;
  agentId: string | null;
  fields: Record<string, string>;
  reason: string;
  sourceAlertId: string | null;
  createdBy: string;
  expiresAt: string | null;
}

export async function insertException(tx: Queryable, x: NewException): Promise<AlertException> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO alert_exceptions (rule_id, scope, group_id, agent_id, fields, reason, source_alert_id, created_by, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [
      x.ruleId,
      x.scope,
      x.groupId,
      x.agentId,
      JSON.stringify(x.fields),
      x.reason,
      x.sourceAlertId,
      x.createdBy,
      x.expiresAt,
    ],
  );
  await bumpVersion(tx);
  return (await getException(tx, rows[0]!.id))!;
}

export async function getException(db: Queryable, id: string): Promise<AlertException | undefined> {
  const { rows } = await db.query<ExceptionRow>(`${exceptionSelect} WHERE x.id = $1`, [id]);
  return rows[0] && toException(rows[0]);
}

export async function listExceptions(
  db: Queryable,
  filter: { ruleId?: string; active?: boolean },
): Promise<AlertException[]> {
  const { rows } = await db.query<ExceptionRow>(
    `${exceptionSelect}
      WHERE ($1::text IS NULL OR x.rule_id = $1)
        AND (NOT $2::boolean OR (x.revoked_at IS NULL AND (x.expires_at IS NULL OR x.expires_at > now())))
      ORDER BY x.created_at DESC, x.id LIMIT 1000`,
    [filter.ruleId ?? null, filter.active ?? false],
  );
  return rows.map(toException);
}

export async function revokeException(tx: Queryable, id: string): Promise<AlertException | undefined> {
  const { rowCount } = await tx.query(
    'UPDATE alert_exceptions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
    [id],
  );
  if (rowCount === 0) return undefined;
  await bumpVersion(tx);
  return getException(tx, id);
}

/** Exceptions that can still suppress: not revoked (expiry is checked at match time). */
export async function loadLiveExceptions(db: Queryable): Promise<AlertException[]> {
  const { rows } = await db.query<ExceptionRow>(
    `${exceptionSelect} WHERE x.revoked_at IS NULL AND (x.expires_at IS NULL OR x.expires_at > now())`,
  );
  return rows.map(toException);
}

export async function countExceptionHit(tx: Queryable, id: string, at: Date): Promise<void> {
  await tx.query(
    `UPDATE alert_exceptions SET hits = hits + 1, last_hit = GREATEST(last_hit, $2::timestamptz) WHERE id = $1`,
    [id, at],
  );
}
