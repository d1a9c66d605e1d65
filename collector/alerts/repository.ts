// SQL for alerts. Deduplication lives in the database: a partial unique index allows one open
// alert per rule+agent+entity, so concurrent ingests (or two collectors) cannot create twins.
import type { Queryable } from '../db/db.js';
import { IllegalTransitionError, ReasonRequiredError, UnknownAssigneeError } from './errors.js';

export type Level = 'informational' | 'low' | 'medium' | 'high' | 'critical';
export const levels: Level[] = ['informational', 'low', 'medium', 'high', 'critical'];
export type AlertStatus = 'open' | 'acknowledged' | 'resolved' | 'false_positive';
export const alertStatuses: AlertStatus[] = ['open', 'acknowledged', 'resolved', 'false_positive'];

/** Allowed moves; closed alerts stay closed (a new match opens a new alert). */
const transitions: Record<AlertStatus, AlertStatus[]> = {
  open: ['acknowledged', 'resolved', 'false_positive'],
  acknowledged: ['resolved', 'false_positive'],
  resolved: [],
  false_positive: [],
};
const closing = (status: AlertStatus) => status === 'resolved' || status === 'false_positive';

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
  /** null for an alert the collector raised about itself (see recordCollectorAlert). */
  agentId: string | null;
  groupId: string | null;
  /** The agent's hostname, or COLLECTOR_HOSTNAME for a collector alert. */
  hostname: string;
  entity: string;
  status: AlertStatus;
  statusReason: string | null;
  assignee: { id: string; username: string } | null;
  count: number;
  firstSeen: string;
  lastSeen: string;
  evidence: Record<string, unknown>;
}

/** Matches of one rule+agent+entity folded into one write. */
export interface MatchGroup {
  /** The latest match of the group: its evidence is shown. */
  match: AlertMatch;
  /** How many matches the group holds. */
  count: number;
  /** Every matching event. */
  eventIds: string[];
  firstSeen: Date;
}

const dedupKeyOf = (match: AlertMatch) => `${match.ruleId}|${match.agentId}|${match.entity}`;

/** Records one match: bumps the open alert of its key inside the window, or opens a new one. */
export async function recordMatch(
  tx: Queryable,
  match: AlertMatch,
  windowMs: number,
): Promise<{ alertId: string; created: boolean }> {
  const [result] = await recordMatches(
    tx,
    [{ match, count: 1, eventIds: [match.eventId], firstSeen: match.eventTime }],
    windowMs,
  );
  return result!;
}

/**
 * Records many match groups in three statements, whatever their number: each bumps the open alert
 * of its key inside the window, or opens a new one. Keys must be distinct (one group per key).
 * Results come back in the order of `groups`.
 */
export async function recordMatches(
  tx: Queryable,
  groups: MatchGroup[],
  windowMs: number,
): Promise<Array<{ alertId: string; created: boolean }>> {
  if (groups.length === 0) return [];
  // Rows in key order, so two transactions touching the same keys lock them in the same order.
  const rows = groups
    .map(({ match, count, eventIds, firstSeen }) => ({
      rule_id: match.ruleId,
      rule_title: match.ruleTitle,
      level: match.level,
      tags: match.tags,
      agent_id: match.agentId,
      entity: match.entity,
      dedup_key: dedupKeyOf(match),
      first_seen: firstSeen.toISOString(),
      last_seen: match.eventTime.toISOString(),
      last_event_id: match.eventId,
      evidence: match.evidence,
      count,
      event_ids: eventIds,
    }))
    .sort((a, b) => (a.dedup_key < b.dedup_key ? -1 : a.dedup_key > b.dedup_key ? 1 : 0));
  const json = JSON.stringify(rows);
  // A key whose alert went quiet for longer than the window, or was closed, starts afresh.
  await tx.query(
    `UPDATE alerts a SET dedup_open = false
       FROM jsonb_to_recordset($1::jsonb) AS k(dedup_key text, last_seen timestamptz)
      WHERE a.dedup_key = k.dedup_key AND a.dedup_open
        AND (a.last_seen < k.last_seen - make_interval(secs => $2) OR a.status IN ('resolved', 'false_positive'))`,
    [json, windowMs / 1000],
  );
  const { rows: written } = await tx.query<{ id: string; dedup_key: string; created: boolean }>(
    `INSERT INTO alerts (rule_id, rule_title, level, tags, agent_id, entity, dedup_key, first_seen, last_seen,
                         last_event_id, evidence, hostname, count)
     SELECT m.rule_id, m.rule_title, m.level, m.tags, m.agent_id, m.entity, m.dedup_key, m.first_seen, m.last_seen,
            m.last_event_id, m.evidence, COALESCE(g.hostname, ''), m.count
       FROM jsonb_to_recordset($1::jsonb) AS m(rule_id text, rule_title text, level text, tags text[],
              agent_id uuid, entity text, dedup_key text, first_seen timestamptz, last_seen timestamptz,
              last_event_id uuid, evidence jsonb, count integer)
       LEFT JOIN agents g ON g.id = m.agent_id
      ORDER BY m.dedup_key
     ON CONFLICT (dedup_key) WHERE dedup_open DO UPDATE SET
       count = alerts.count + EXCLUDED.count,
       first_seen = LEAST(alerts.first_seen, EXCLUDED.first_seen),
       last_seen = GREATEST(alerts.last_seen, EXCLUDED.last_seen),
       last_event_id = CASE WHEN EXCLUDED.last_seen >= alerts.last_seen THEN EXCLUDED.last_event_id ELSE alerts.last_event_id END,
       evidence = CASE WHEN EXCLUDED.last_seen >= alerts.last_seen THEN EXCLUDED.evidence ELSE alerts.evidence END,
       updated_at = now()
     RETURNING id, dedup_key, (xmax = 0) AS created`,
    [json],
  );
  const byKey = new Map(written.map((row) => [row.dedup_key, row]));
  const links = rows.map((row) => ({ alert_id: byKey.get(row.dedup_key)!.id, event_ids: row.event_ids }));
  await tx.query(
    `INSERT INTO alert_events (alert_id, event_id)
     SELECT k.alert_id, unnest(k.event_ids)
       FROM jsonb_to_recordset($1::jsonb) AS k(alert_id uuid, event_ids uuid[])
     ON CONFLICT DO NOTHING`,
    [JSON.stringify(links)],
  );
  return groups.map(({ match }) => {
    const row = byKey.get(dedupKeyOf(match))!;
    return { alertId: row.id, created: row.created };
  });
}

/**
 * What a collector alert (no agent) shows as its workstation; stored in alerts.hostname, so the
 * queue's text search and workstation sort find it too.
 */
export const COLLECTOR_HOSTNAME = 'collector';

/** An alert the collector raises about itself: no agent, no stored event, the evidence on the alert. */
export interface CollectorAlert {
  ruleId: string;
  ruleTitle: string;
  level: Level;
  tags: string[];
  /** What it is about (e.g. a notification channel id); one open alert per rule+entity. */
  entity: string;
  time: Date;
  evidence: Record<string, unknown>;
}

/**
 * Records a collector alert: bumps the open alert of its rule+entity inside the dedup window
 * (count, last_seen, latest evidence), or opens a new one — the same rules as recordMatches.
 */
export async function recordCollectorAlert(
  tx: Queryable,
  alert: CollectorAlert,
  windowMs: number,
): Promise<{ alertId: string; created: boolean }> {
  // The agent part of the key is empty: no agent id can collide with it.
  const dedupKey = `${alert.ruleId}||${alert.entity}`;
  await tx.query(
    `UPDATE alerts SET dedup_open = false
      WHERE dedup_key = $1 AND dedup_open
        AND (last_seen < $2::timestamptz - make_interval(secs => $3) OR status IN ('resolved', 'false_positive'))`,
    [dedupKey, alert.time.toISOString(), windowMs / 1000],
  );
  const { rows } = await tx.query<{ id: string; created: boolean }>(
    `INSERT INTO alerts (rule_id, rule_title, level, tags, agent_id, entity, dedup_key, first_seen, last_seen,
                         last_event_id, evidence, hostname, count)
     VALUES ($1, $2, $3, $4::text[], NULL, $5, $6, $7, $7, NULL, $8::jsonb, $9, 1)
     ON CONFLICT (dedup_key) WHERE dedup_open DO UPDATE SET
       count = alerts.count + 1,
       last_seen = GREATEST(alerts.last_seen, EXCLUDED.last_seen),
       evidence = CASE WHEN EXCLUDED.last_seen >= alerts.last_seen THEN EXCLUDED.evidence ELSE alerts.evidence END,
       updated_at = now()
     RETURNING id, (xmax = 0) AS created`,
    [
      alert.ruleId,
      alert.ruleTitle,
      alert.level,
      alert.tags,
      alert.entity,
      dedupKey,
      alert.time.toISOString(),
      JSON.stringify(alert.evidence),
      COLLECTOR_HOSTNAME,
    ],
  );
  return { alertId: rows[0]!.id, created: rows[0]!.created };
}

// LEFT JOIN: collector alerts have no agent. Filters on the agent or its group leave them out.
const alertColumns = `a.id, a.rule_id, a.rule_title, a.level, a.tags, a.agent_id, g.group_id,
  COALESCE(g.hostname, a.hostname) AS hostname, a.entity,
  a.status, a.status_reason, a.assignee_id, u.username AS assignee_name, a.count, a.first_seen, a.last_seen,
  a.evidence, a.level_rank, a.hostname AS alert_hostname, a.assignee_sort`;
const alertFrom = `alerts a LEFT JOIN agents g ON g.id = a.agent_id LEFT JOIN users u ON u.id = a.assignee_id`;

interface AlertRow {
  id: string;
  rule_id: string;
  rule_title: string;
  level: Level;
  tags: string[];
  agent_id: string | null;
  group_id: string | null;
  hostname: string;
  entity: string;
  status: AlertStatus;
  status_reason: string | null;
  assignee_id: string | null;
  assignee_name: string | null;
  count: number;
  first_seen: Date;
  last_seen: Date;
  evidence: Record<string, unknown>;
  level_rank: number;
  alert_hostname: string;
  assignee_sort: string;
}

const toAlert = (row: AlertRow): Alert => ({
  id: row.id,
  ruleId: row.rule_id,
  ruleTitle: row.rule_title,
  level: row.level,
  tags: row.tags,
  agentId: row.agent_id,
  groupId: row.group_id,
  hostname: row.hostname,
  entity: row.entity,
  status: row.status,
  statusReason: row.status_reason,
  assignee: row.assignee_id ? { id: row.assignee_id, username: row.assignee_name ?? '' } : null,
  count: row.count,
  firstSeen: new Date(row.first_seen).toISOString(),
  lastSeen: new Date(row.last_seen).toISOString(),
  evidence: row.evidence,
});

export type AlertSort =
  | 'last_seen'
  | 'first_seen'
  | 'level'
  | 'count'
  | 'status'
  | 'workstation'
  | 'assignee';
export const alertSorts: AlertSort[] = [
  'last_seen',
  'first_seen',
  'level',
  'count',
  'status',
  'workstation',
  'assignee',
];

const sortColumns: Record<
  AlertSort,
  { column: string; cast: string; valueOf: (row: AlertRow) => string | number }
> = {
  last_seen: {
    column: 'a.last_seen',
    cast: 'timestamptz',
    valueOf: (row) => new Date(row.last_seen).toISOString(),
  },
  first_seen: {
    column: 'a.first_seen',
    cast: 'timestamptz',
    valueOf: (row) => new Date(row.first_seen).toISOString(),
  },
  level: { column: 'a.level_rank', cast: 'smallint', valueOf: (row) => row.level_rank },
  count: { column: 'a.count', cast: 'integer', valueOf: (row) => row.count },
  status: { column: 'a.status', cast: 'text', valueOf: (row) => row.status },
  // The hostname the alert opened with (indexed with the alert); a later rename does not re-sort it.
  workstation: { column: 'a.hostname', cast: 'text', valueOf: (row) => row.alert_hostname },
  // The assignee's name kept on the alert by a trigger (migration 007), '' when unassigned.
  assignee: { column: 'a.assignee_sort', cast: 'text', valueOf: (row) => row.assignee_sort },
};

/** Where a page ended: the sort key and id of its last alert. */
export interface AlertPosition {
  value: string | number;
  id: string;
}

export interface AlertFilter {
  status?: AlertStatus;
  level?: Level;
  ruleId?: string;
  agentId?: string;
  groupId?: string;
  assigneeId?: string;
  /** last_seen range: from inclusive, to exclusive. */
  from?: string;
  to?: string;
  /** Substring of the rule title, entity or hostname (case-insensitive). */
  text?: string;
  sort?: AlertSort;
  order?: 'asc' | 'desc';
  limit: number;
  after?: AlertPosition;
}

const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

export async function listAlerts(
  db: Queryable,
  filter: AlertFilter,
): Promise<{ alerts: Alert[]; next: AlertPosition | null }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.status) where.push(`a.status = ${param(filter.status)}`);
  if (filter.level) where.push(`a.level = ${param(filter.level)}`);
  if (filter.ruleId) where.push(`a.rule_id = ${param(filter.ruleId)}`);
  if (filter.agentId) where.push(`a.agent_id = ${param(filter.agentId)}::uuid`);
  if (filter.groupId) where.push(`g.group_id = ${param(filter.groupId)}`);
  if (filter.assigneeId) where.push(`a.assignee_id = ${param(filter.assigneeId)}::uuid`);
  if (filter.from) where.push(`a.last_seen >= ${param(filter.from)}::timestamptz`);
  if (filter.to) where.push(`a.last_seen < ${param(filter.to)}::timestamptz`);
  if (filter.text) where.push(`a.search_text LIKE ${param(`%${escapeLike(filter.text.toLowerCase())}%`)}`);
  const sort = sortColumns[filter.sort ?? 'last_seen'];
  const desc = (filter.order ?? 'desc') === 'desc';
  if (filter.after) {
    where.push(
      `(${sort.column}, a.id) ${desc ? '<' : '>'} (${param(filter.after.value)}::${sort.cast}, ${param(filter.after.id)}::uuid)`,
    );
  }
  const direction = desc ? 'DESC' : 'ASC';
  const { rows } = await db.query<AlertRow>(
    `SELECT ${alertColumns} FROM ${alertFrom}
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${sort.column} ${direction}, a.id ${direction} LIMIT ${param(filter.limit)}`,
    params,
  );
  const last = rows.at(-1);
  return {
    alerts: rows.map(toAlert),
    next: rows.length === filter.limit && last ? { value: sort.valueOf(last), id: last.id } : null,
  };
}

export async function getAlert(db: Queryable, id: string, forUpdate = false): Promise<Alert | undefined> {
  const { rows } = await db.query<AlertRow>(
    `SELECT ${alertColumns} FROM ${alertFrom} WHERE a.id = $1${forUpdate ? ' FOR UPDATE OF a' : ''}`,
    [id],
  );
  return rows[0] && toAlert(rows[0]);
}

export interface EvidenceEvent {
  id: string;
  time: string;
  receivedAt: string;
  type: string;
  data: Record<string, unknown>;
}

export const EVIDENCE_LIMIT = 100;

/** The stored events behind an alert, newest first (at most EVIDENCE_LIMIT), and how many there are. */
export async function alertEvidence(
  db: Queryable,
  alertId: string,
): Promise<{ events: EvidenceEvent[]; total: number }> {
  const { rows } = await db.query<{
    id: string;
    time: Date;
    received_at: Date;
    type: string;
    data: Record<string, unknown>;
  }>(
    `SELECT e.id, e.time, e.received_at, e.type, e.data
       FROM alert_events ae JOIN events e ON e.id = ae.event_id
      WHERE ae.alert_id = $1 ORDER BY e.time DESC, e.id DESC LIMIT $2`,
    [alertId, EVIDENCE_LIMIT],
  );
  const count = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM alert_events WHERE alert_id = $1',
    [alertId],
  );
  return {
    events: rows.map((row) => ({
      id: row.id,
      time: new Date(row.time).toISOString(),
      receivedAt: new Date(row.received_at).toISOString(),
      type: row.type,
      data: row.data,
    })),
    total: count.rows[0]!.n,
  };
}

/** Checks a move without touching the database. */
export function checkTransition(from: AlertStatus, to: AlertStatus, reason: string | undefined): void {
  if (!transitions[from].includes(to)) throw new IllegalTransitionError(from, to);
  if (closing(to) && !reason?.trim()) throw new ReasonRequiredError(to);
}

/** Moves a locked alert to `to`; closing it also ends its deduplication (a new match opens a new alert). */
export async function transitionAlert(
  tx: Queryable,
  alert: Alert,
  to: AlertStatus,
  reason: string | undefined,
  actorId: string | null,
): Promise<Alert> {
  checkTransition(alert.status, to, reason);
  await tx.query(
    `UPDATE alerts SET status = $2, status_reason = $3, status_changed_at = now(), status_changed_by = $4,
            dedup_open = dedup_open AND NOT $5, updated_at = now()
      WHERE id = $1`,
    [alert.id, to, reason?.trim() || null, actorId, closing(to)],
  );
  return (await getAlert(tx, alert.id))!;
}

export async function assignAlert(tx: Queryable, alertId: string, userId: string | null): Promise<Alert> {
  if (userId !== null) {
    const { rows } = await tx.query('SELECT 1 FROM users WHERE id = $1 AND disabled_at IS NULL', [userId]);
    if (rows.length === 0) throw new UnknownAssigneeError(userId);
  }
  await tx.query('UPDATE alerts SET assignee_id = $2, updated_at = now() WHERE id = $1', [alertId, userId]);
  return (await getAlert(tx, alertId))!;
}

export interface AlertComment {
  id: string;
  alertId: string;
  author: { id: string; username: string };
  createdAt: string;
  text: string;
}

interface CommentRow {
  id: string;
  alert_id: string;
  author_id: string;
  username: string;
  created_at: Date;
  body: string;
}

const toComment = (row: CommentRow): AlertComment => ({
  id: row.id,
  alertId: row.alert_id,
  author: { id: row.author_id, username: row.username },
  createdAt: new Date(row.created_at).toISOString(),
  text: row.body,
});

export async function addComment(
  tx: Queryable,
  alertId: string,
  authorId: string,
  text: string,
): Promise<AlertComment> {
  const { rows } = await tx.query<CommentRow>(
    `WITH c AS (INSERT INTO alert_comments (alert_id, author_id, body) VALUES ($1, $2, $3) RETURNING *)
     SELECT c.id, c.alert_id, c.author_id, u.username, c.created_at, c.body FROM c JOIN users u ON u.id = c.author_id`,
    [alertId, authorId, text],
  );
  return toComment(rows[0]!);
}

export async function listComments(db: Queryable, alertId: string): Promise<AlertComment[]> {
  const { rows } = await db.query<CommentRow>(
    `SELECT c.id, c.alert_id, c.author_id, u.username, c.created_at, c.body
       FROM alert_comments c JOIN users u ON u.id = c.author_id
      WHERE c.alert_id = $1 ORDER BY c.created_at, c.id`,
    [alertId],
  );
  return rows.map(toComment);
}

/** Rule id → alerts whose activity falls in the last 24 hours (for the rules list). */
export async function ruleHitCounts(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await db.query<{ rule_id: string; n: number }>(
    `SELECT rule_id, count(*)::int AS n FROM alerts WHERE last_seen > now() - interval '24 hours' GROUP BY rule_id`,
  );
  return new Map(rows.map((row) => [row.rule_id, row.n]));
}
