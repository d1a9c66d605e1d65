// The append-only audit log: who did what to which object, with the state before and after.
// Entries are written with the caller's transaction, so a change and its record commit together.
import type { FastifyRequest } from 'fastify';
import type { Queryable } from '../db/db.js';

export interface AuditActor {
  userId: string | null;
  username: string;
  requestId?: string;
  ip?: string;
}

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId?: string | null;
  before?: unknown;
  after?: unknown;
}

export interface AuditRecord {
  id: string;
  at: string;
  actorId: string | null;
  actorName: string;
  action: string;
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
  ip: string | null;
}

/** The actor of an authenticated request (the auth hook has set `principal`). */
export function actorOf(request: FastifyRequest): AuditActor {
  return {
    userId: request.principal?.userId ?? null,
    username: request.principal?.username ?? 'anonymous',
    requestId: request.id,
    ip: request.ip,
  };
}

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));

export async function recordAudit(tx: Queryable, actor: AuditActor, entry: AuditEntry): Promise<void> {
  await tx.query(
    `INSERT INTO audit_log (actor_id, actor_name, action, target_type, target_id, before, after, request_id, ip)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      actor.userId,
      actor.username,
      entry.action,
      entry.targetType,
      entry.targetId ?? null,
      json(entry.before),
      json(entry.after),
      actor.requestId ?? null,
      actor.ip ?? null,
    ],
  );
}

export interface AuditFilter {
  actorId?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  from?: string;
  to?: string;
  /** Leave these actions out (e.g. page-view records in a trail of changes). */
  excludeActions?: string[];
  /** Continue after this entry id (ids grow with time). */
  beforeId?: string;
  limit: number;
}

interface AuditRow {
  id: string;
  at: Date;
  actor_id: string | null;
  actor_name: string;
  action: string;
  target_type: string;
  target_id: string | null;
  before: unknown;
  after: unknown;
  request_id: string | null;
  ip: string | null;
}

export async function listAudit(db: Queryable, filter: AuditFilter): Promise<AuditRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.actorId) add('actor_id = ?::uuid', filter.actorId);
  if (filter.action) add('action = ?', filter.action);
  if (filter.targetType) add('target_type = ?', filter.targetType);
  if (filter.targetId) add('target_id = ?', filter.targetId);
  if (filter.excludeActions?.length) add('action <> ALL(?::text[])', filter.excludeActions);
  if (filter.from) add('at >= ?::timestamptz', filter.from);
  if (filter.to) add('at < ?::timestamptz', filter.to);
  if (filter.beforeId) add('id < ?::bigint', filter.beforeId);
  params.push(filter.limit);
  // Ordered by the bigint column, not the text alias `id` (which would sort '99' before '122').
  const { rows } = await db.query<AuditRow>(
    `SELECT id::text AS id, at, actor_id, actor_name, action, target_type, target_id, before, after, request_id, ip
       FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY audit_log.id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map((row) => ({
    id: row.id,
    at: new Date(row.at).toISOString(),
    actorId: row.actor_id,
    actorName: row.actor_name,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    before: row.before,
    after: row.after,
    requestId: row.request_id,
    ip: row.ip,
  }));
}

export interface AuditActionSummary {
  count: number;
  lastActorName: string | null;
  lastAt: string | null;
}

/** How often one action was recorded on one target, and the latest time and actor (e.g. evidence views). */
export async function summarizeAuditAction(
  db: Queryable,
  targetType: string,
  targetId: string,
  action: string,
): Promise<AuditActionSummary> {
  const { rows } = await db.query<{ n: number; actor_name: string | null; at: Date | null }>(
    `SELECT (SELECT count(*)::int FROM audit_log
              WHERE target_type = $1 AND target_id = $2 AND action = $3) AS n,
            latest.actor_name, latest.at
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (
         SELECT actor_name, at FROM audit_log
          WHERE target_type = $1 AND target_id = $2 AND action = $3
          ORDER BY id DESC LIMIT 1) AS latest ON true`,
    [targetType, targetId, action],
  );
  const row = rows[0];
  return {
    count: row?.n ?? 0,
    lastActorName: row?.actor_name ?? null,
    lastAt: row?.at ? new Date(row.at).toISOString() : null,
  };
}
