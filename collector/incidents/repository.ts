// SQL for incidents: the incident row, its linked alerts (an alert belongs to at most one incident:
// incident_alerts.alert_id is the primary key), checklist tasks, timeline, and the two work queues
// (alerts awaiting escalation, tasks turning overdue), both claimed with FOR UPDATE SKIP LOCKED.
import type { Level } from '../alerts/repository.js';
import type { Queryable } from '../db/db.js';
import type { ChecklistTask, TaskPhase } from './checklist.js';

export const incidentStatuses = [
  'new',
  'investigating',
  'contained',
  'notifying',
  'recovered',
  'closed',
] as const;
export type IncidentStatus = (typeof incidentStatuses)[number];
export const resolutions = ['confirmed_breach', 'no_breach', 'duplicate'] as const;
export type Resolution = (typeof resolutions)[number];
export const dataCategories = [
  'ssn',
  'drivers_license',
  'payment_card',
  'health',
  'credentials',
  'contact_data',
] as const;
export type DataCategory = (typeof dataCategories)[number];
export const taskStates = ['todo', 'doing', 'done', 'skipped'] as const;
export type TaskState = (typeof taskStates)[number];
export const contactRoles = ['legal', 'dpo', 'pr', 'outsourcer'] as const;

export interface Contact {
  name?: string;
  email?: string;
  phone?: string;
}
export type Contacts = Partial<Record<(typeof contactRoles)[number], Contact>>;

export interface HotlineInputs {
  ahtSec: number;
  callShare: { low: number; high: number };
  targetServiceLevel: number;
  targetAnswerSec: number;
  outsourcerPool: { agents: number; shrinkage: number } | null;
}

export const DEFAULT_HOTLINE: HotlineInputs = {
  ahtSec: 360,
  callShare: { low: 0.01, high: 0.15 },
  targetServiceLevel: 0.8,
  targetAnswerSec: 20,
  outsourcerPool: null,
};

export interface IncidentRecord {
  id: string;
  title: string;
  summary: string;
  severity: Level;
  status: IncidentStatus;
  resolution: Resolution | null;
  ownerId: string | null;
  extraAgentIds: string[];
  extraUsers: string[];
  dataCategories: DataCategory[];
  affectedCounts: Record<string, number>;
  awareAt: Date | null;
  determinedAt: Date | null;
  discoveredAt: Date | null;
  containedAt: Date | null;
  closedAt: Date | null;
  timezone: string;
  contacts: Contacts;
  hotline: HotlineInputs;
  openedBy: string;
  escalationKey: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Columns a change may write, by their record name. */
export type IncidentChanges = Partial<
  Omit<IncidentRecord, 'id' | 'openedBy' | 'escalationKey' | 'createdAt' | 'updatedAt'>
>;

const columnOf: Record<keyof IncidentChanges, string> = {
  title: 'title',
  summary: 'summary',
  severity: 'severity',
  status: 'status',
  resolution: 'resolution',
  ownerId: 'owner_id',
  extraAgentIds: 'extra_agent_ids',
  extraUsers: 'extra_users',
  dataCategories: 'data_categories',
  affectedCounts: 'affected_counts',
  awareAt: 'aware_at',
  determinedAt: 'determined_at',
  discoveredAt: 'discovered_at',
  containedAt: 'contained_at',
  closedAt: 'closed_at',
  timezone: 'timezone',
  contacts: 'contacts',
  hotline: 'hotline',
};
const jsonColumns = new Set(['affected_counts', 'contacts', 'hotline']);

const incidentColumns = `id, title, summary, severity, status, resolution, owner_id, extra_agent_ids::text[] AS extra_agent_ids,
  extra_users, data_categories, affected_counts, aware_at, determined_at, discovered_at, contained_at, closed_at,
  timezone, contacts, hotline, opened_by, escalation_key, created_at, updated_at`;

interface IncidentRow {
  id: string;
  title: string;
  summary: string;
  severity: Level;
  status: IncidentStatus;
  resolution: Resolution | null;
  owner_id: string | null;
  extra_agent_ids: string[];
  extra_users: string[];
  data_categories: DataCategory[];
  affected_counts: Record<string, number>;
  aware_at: Date | null;
  determined_at: Date | null;
  discovered_at: Date | null;
  contained_at: Date | null;
  closed_at: Date | null;
  timezone: string;
  contacts: Contacts;
  hotline: Partial<HotlineInputs>;
  opened_by: string;
  escalation_key: string | null;
  created_at: Date;
  updated_at: Date;
}

const date = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));

const toIncident = (row: IncidentRow): IncidentRecord => ({
  id: row.id,
  title: row.title,
  summary: row.summary,
  severity: row.severity,
  status: row.status,
  resolution: row.resolution,
  ownerId: row.owner_id,
  extraAgentIds: row.extra_agent_ids,
  extraUsers: row.extra_users,
  dataCategories: row.data_categories,
  affectedCounts: row.affected_counts,
  awareAt: date(row.aware_at),
  determinedAt: date(row.determined_at),
  discoveredAt: date(row.discovered_at),
  containedAt: date(row.contained_at),
  closedAt: date(row.closed_at),
  timezone: row.timezone,
  contacts: row.contacts,
  hotline: { ...DEFAULT_HOTLINE, ...row.hotline },
  openedBy: row.opened_by,
  escalationKey: row.escalation_key,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

export interface NewIncident extends IncidentChanges {
  title: string;
  severity: Level;
  openedBy: string;
  escalationKey?: string;
}

/** Inserts an incident; with an escalation key that already has an open incident, returns undefined. */
export async function insertIncident(
  tx: Queryable,
  incident: NewIncident,
): Promise<IncidentRecord | undefined> {
  const names: string[] = ['opened_by', 'escalation_key'];
  const values: unknown[] = [incident.openedBy, incident.escalationKey ?? null];
  for (const [key, column] of Object.entries(columnOf) as Array<[keyof IncidentChanges, string]>) {
    const value = incident[key];
    if (value === undefined) continue;
    names.push(column);
    values.push(jsonColumns.has(column) ? JSON.stringify(value) : value);
  }
  const { rows } = await tx.query<IncidentRow>(
    `INSERT INTO incidents (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})
     ON CONFLICT (escalation_key) WHERE escalation_key IS NOT NULL AND status <> 'closed' DO NOTHING
     RETURNING ${incidentColumns}`,
    values,
  );
  return rows[0] ? toIncident(rows[0]) : undefined;
}

export async function getIncident(
  db: Queryable,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<IncidentRecord | undefined> {
  const { rows } = await db.query<IncidentRow>(
    `SELECT ${incidentColumns} FROM incidents WHERE id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] ? toIncident(rows[0]) : undefined;
}

export async function findOpenIncidentByKey(
  tx: Queryable,
  escalationKey: string,
): Promise<IncidentRecord | undefined> {
  const { rows } = await tx.query<IncidentRow>(
    `SELECT ${incidentColumns} FROM incidents WHERE escalation_key = $1 AND status <> 'closed' FOR UPDATE`,
    [escalationKey],
  );
  return rows[0] ? toIncident(rows[0]) : undefined;
}

export async function updateIncidentRow(
  tx: Queryable,
  id: string,
  changes: IncidentChanges,
): Promise<IncidentRecord> {
  const sets: string[] = [];
  const values: unknown[] = [id];
  for (const [key, value] of Object.entries(changes) as Array<[keyof IncidentChanges, unknown]>) {
    if (value === undefined) continue;
    const column = columnOf[key];
    values.push(jsonColumns.has(column) ? JSON.stringify(value) : value);
    sets.push(`${column} = $${values.length}`);
  }
  sets.push('updated_at = now()');
  const { rows } = await tx.query<IncidentRow>(
    `UPDATE incidents SET ${sets.join(', ')} WHERE id = $1 RETURNING ${incidentColumns}`,
    values,
  );
  return toIncident(rows[0]!);
}

export interface IncidentListFilter {
  status?: IncidentStatus;
  limit: number;
  after?: { createdAt: string; id: string };
}

export async function listIncidents(db: Queryable, filter: IncidentListFilter): Promise<IncidentRecord[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.status) {
    params.push(filter.status);
    where.push(`status = $${params.length}`);
  }
  if (filter.after) {
    params.push(filter.after.createdAt, filter.after.id);
    where.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(filter.limit);
  const { rows } = await db.query<IncidentRow>(
    `SELECT ${incidentColumns} FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toIncident);
}

// ---------------------------------------------------------------------------------------------
// Linked alerts
// ---------------------------------------------------------------------------------------------

export interface AlertFacts {
  id: string;
  ruleId: string;
  ruleTitle: string;
  level: Level;
  tags: string[];
  /** null for a collector alert (no workstation); it takes part in no agent-based escalation. */
  agentId: string | null;
  hostname: string;
  status: string;
  firstSeen: Date;
  lastSeen: Date;
  evidence: Record<string, unknown>;
  incidentId: string | null;
}

interface AlertFactsRow {
  id: string;
  rule_id: string;
  rule_title: string;
  level: Level;
  tags: string[];
  agent_id: string | null;
  hostname: string;
  status: string;
  first_seen: Date;
  last_seen: Date;
  evidence: Record<string, unknown>;
  incident_id: string | null;
}

const alertFactsColumns = `a.id, a.rule_id, a.rule_title, a.level, a.tags, a.agent_id,
  COALESCE(g.hostname, a.hostname) AS hostname, a.status, a.first_seen, a.last_seen, a.evidence, ia.incident_id`;
// LEFT JOIN: a collector alert (no agent) must still be found, linked and taken off the escalation
// queue; with an inner join it would sit on the queue for ever.
const alertFactsFrom = `alerts a LEFT JOIN agents g ON g.id = a.agent_id LEFT JOIN incident_alerts ia ON ia.alert_id = a.id`;

const toAlertFacts = (row: AlertFactsRow): AlertFacts => ({
  id: row.id,
  ruleId: row.rule_id,
  ruleTitle: row.rule_title,
  level: row.level,
  tags: row.tags,
  agentId: row.agent_id,
  hostname: row.hostname,
  status: row.status,
  firstSeen: new Date(row.first_seen),
  lastSeen: new Date(row.last_seen),
  evidence: row.evidence,
  incidentId: row.incident_id,
});

export async function alertsByIds(db: Queryable, ids: string[]): Promise<AlertFacts[]> {
  const { rows } = await db.query<AlertFactsRow>(
    `SELECT ${alertFactsColumns} FROM ${alertFactsFrom} WHERE a.id = ANY($1::uuid[])`,
    [ids],
  );
  return rows.map(toAlertFacts);
}

export async function linkedAlerts(db: Queryable, incidentId: string): Promise<AlertFacts[]> {
  const { rows } = await db.query<AlertFactsRow>(
    `SELECT ${alertFactsColumns} FROM ${alertFactsFrom} WHERE ia.incident_id = $1 ORDER BY a.first_seen, a.id`,
    [incidentId],
  );
  return rows.map(toAlertFacts);
}

/** Links the alerts that belong to no incident yet; returns the ids linked now. */
export async function linkAlerts(
  tx: Queryable,
  incidentId: string,
  alertIds: string[],
  linkedBy: string,
): Promise<string[]> {
  if (alertIds.length === 0) return [];
  const { rows } = await tx.query<{ alert_id: string }>(
    `INSERT INTO incident_alerts (alert_id, incident_id, linked_by)
     SELECT unnest($2::uuid[]), $1, $3
     ON CONFLICT (alert_id) DO NOTHING RETURNING alert_id`,
    [incidentId, alertIds, linkedBy],
  );
  return rows.map((r) => r.alert_id);
}

/** The incident of each alert that belongs to one (alert id → incident). */
export async function incidentsOfAlerts(
  db: Queryable,
  alertIds: string[],
): Promise<Map<string, { id: string; title: string; status: IncidentStatus }>> {
  if (alertIds.length === 0) return new Map();
  const { rows } = await db.query<{ alert_id: string; id: string; title: string; status: IncidentStatus }>(
    `SELECT ia.alert_id::text AS alert_id, i.id::text AS id, i.title, i.status
       FROM incident_alerts ia JOIN incidents i ON i.id = ia.incident_id WHERE ia.alert_id = ANY($1::uuid[])`,
    [alertIds],
  );
  return new Map(rows.map((r) => [r.alert_id, { id: r.id, title: r.title, status: r.status }]));
}

/** Agents and workstation users the linked alerts name. */
export async function derivedAffected(
  db: Queryable,
  incidentId: string,
): Promise<{ agents: Array<{ id: string; hostname: string }>; users: string[] }> {
  const agents = await db.query<{ id: string; hostname: string }>(
    `SELECT DISTINCT g.id, g.hostname FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id
       JOIN agents g ON g.id = a.agent_id WHERE ia.incident_id = $1 ORDER BY g.hostname`,
    [incidentId],
  );
  const users = await db.query<{ user_name: string }>(
    `SELECT DISTINCT a.evidence->>'user' AS user_name FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id
      WHERE ia.incident_id = $1 AND a.evidence->>'user' IS NOT NULL ORDER BY 1`,
    [incidentId],
  );
  return { agents: agents.rows, users: users.rows.map((r) => r.user_name) };
}

export async function agentHostnames(
  db: Queryable,
  ids: string[],
): Promise<Array<{ id: string; hostname: string }>> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string; hostname: string }>(
    'SELECT id::text AS id, hostname FROM agents WHERE id = ANY($1::uuid[]) ORDER BY hostname',
    [ids],
  );
  return rows;
}

export async function userExists(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM users WHERE id = $1', [id]);
  return rowCount > 0;
}

// ---------------------------------------------------------------------------------------------
// Checklist tasks
// ---------------------------------------------------------------------------------------------

export interface TaskRecord {
  key: string;
  position: number;
  title: string;
  description: string;
  phase: TaskPhase;
  ownerId: string | null;
  state: TaskState;
  dueAt: Date | null;
  overdueTriggeredAt: Date | null;
  updatedAt: Date;
}

interface TaskRow {
  key: string;
  position: number;
  title: string;
  description: string;
  phase: TaskPhase;
  owner_id: string | null;
  state: TaskState;
  due_at: Date | null;
  overdue_triggered_at: Date | null;
  updated_at: Date;
}

const toTask = (row: TaskRow): TaskRecord => ({
  key: row.key,
  position: row.position,
  title: row.title,
  description: row.description,
  phase: row.phase,
  ownerId: row.owner_id,
  state: row.state,
  dueAt: date(row.due_at),
  overdueTriggeredAt: date(row.overdue_triggered_at),
  updatedAt: new Date(row.updated_at),
});

const taskColumns =
  'key, position, title, description, phase, owner_id, state, due_at, overdue_triggered_at, updated_at';

export async function listTasks(db: Queryable, incidentId: string): Promise<TaskRecord[]> {
  const { rows } = await db.query<TaskRow>(
    `SELECT ${taskColumns} FROM incident_tasks WHERE incident_id = $1 ORDER BY position`,
    [incidentId],
  );
  return rows.map(toTask);
}

/**
 * Writes a freshly built checklist: new keys are added, existing ones get the new text and due date
 * while keeping their state and owner; keys no longer in the checklist go unless work started on them.
 * A due date moved later re-arms the overdue trigger.
 */
export async function syncTasks(tx: Queryable, incidentId: string, tasks: ChecklistTask[]): Promise<void> {
  const records = tasks.map((task, position) => ({
    key: task.key,
    position,
    title: task.title,
    description: task.description,
    phase: task.phase,
    due_at: task.dueAt?.toISOString() ?? null,
  }));
  await tx.query(
    `INSERT INTO incident_tasks (incident_id, key, position, title, description, phase, due_at)
     SELECT $1, key, position, title, description, phase, due_at
       FROM jsonb_to_recordset($2::jsonb)
         AS x(key text, position integer, title text, description text, phase text, due_at timestamptz)
     ON CONFLICT (incident_id, key) DO UPDATE SET
       position = EXCLUDED.position,
       title = EXCLUDED.title,
       description = EXCLUDED.description,
       phase = EXCLUDED.phase,
       due_at = EXCLUDED.due_at,
       overdue_triggered_at = CASE
         WHEN EXCLUDED.due_at IS DISTINCT FROM incident_tasks.due_at
              AND (EXCLUDED.due_at IS NULL OR EXCLUDED.due_at > now()) THEN NULL
         ELSE incident_tasks.overdue_triggered_at END,
       updated_at = CASE WHEN EXCLUDED.due_at IS DISTINCT FROM incident_tasks.due_at THEN now()
         ELSE incident_tasks.updated_at END`,
    [incidentId, JSON.stringify(records)],
  );
  await tx.query(
    `DELETE FROM incident_tasks WHERE incident_id = $1 AND state = 'todo' AND owner_id IS NULL
        AND NOT (key = ANY($2::text[]))`,
    [incidentId, tasks.map((t) => t.key)],
  );
}

export async function getTask(
  tx: Queryable,
  incidentId: string,
  key: string,
  options: { forUpdate?: boolean } = {},
): Promise<TaskRecord | undefined> {
  const { rows } = await tx.query<TaskRow>(
    `SELECT ${taskColumns} FROM incident_tasks WHERE incident_id = $1 AND key = $2${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [incidentId, key],
  );
  return rows[0] ? toTask(rows[0]) : undefined;
}

export async function updateTaskRow(
  tx: Queryable,
  incidentId: string,
  key: string,
  changes: { state?: TaskState; ownerId?: string | null; dueAt?: Date | null },
): Promise<TaskRecord> {
  const sets = ['updated_at = now()'];
  const values: unknown[] = [incidentId, key];
  if (changes.state !== undefined) {
    values.push(changes.state);
    sets.push(`state = $${values.length}`);
  }
  if (changes.ownerId !== undefined) {
    values.push(changes.ownerId);
    sets.push(`owner_id = $${values.length}`);
  }
  if (changes.dueAt !== undefined) {
    values.push(changes.dueAt);
    sets.push(`due_at = $${values.length}`);
    sets.push(
      `overdue_triggered_at = CASE WHEN $${values.length}::timestamptz > now() THEN NULL ELSE overdue_triggered_at END`,
    );
  }
  const { rows } = await tx.query<TaskRow>(
    `UPDATE incident_tasks SET ${sets.join(', ')} WHERE incident_id = $1 AND key = $2 RETURNING ${taskColumns}`,
    values,
  );
  return toTask(rows[0]!);
}

/** Claims tasks that passed their due date while open and were not announced yet. */
export async function claimOverdueTasks(
  tx: Queryable,
  limit: number,
): Promise<Array<{ incidentId: string; key: string; title: string; dueAt: Date }>> {
  const { rows } = await tx.query<{ incident_id: string; key: string; title: string; due_at: Date }>(
    `WITH due AS (
       SELECT t.incident_id, t.key FROM incident_tasks t JOIN incidents i ON i.id = t.incident_id
        WHERE t.overdue_triggered_at IS NULL AND t.state IN ('todo', 'doing') AND t.due_at IS NOT NULL
          AND t.due_at <= now() AND i.status <> 'closed'
        ORDER BY t.due_at LIMIT $1 FOR UPDATE OF t SKIP LOCKED)
     UPDATE incident_tasks t SET overdue_triggered_at = now() FROM due
      WHERE t.incident_id = due.incident_id AND t.key = due.key
     RETURNING t.incident_id, t.key, t.title, t.due_at`,
    [limit],
  );
  return rows.map((r) => ({
    incidentId: r.incident_id,
    key: r.key,
    title: r.title,
    dueAt: new Date(r.due_at),
  }));
}

// ---------------------------------------------------------------------------------------------
// Timeline
// ---------------------------------------------------------------------------------------------

export interface TimelineEntry {
  id: number;
  at: Date;
  actor: string;
  kind: string;
  details: Record<string, unknown>;
  /** incident: the incident's own timeline; alert_audit: triage of a linked alert (audit log id). */
  source: 'incident' | 'alert_audit';
}

export async function addTimeline(
  tx: Queryable,
  incidentId: string,
  actor: string,
  kind: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await tx.query(
    'INSERT INTO incident_timeline (incident_id, actor, kind, details) VALUES ($1, $2, $3, $4)',
    [incidentId, actor, kind, JSON.stringify(details)],
  );
}

export async function listTimeline(db: Queryable, incidentId: string): Promise<TimelineEntry[]> {
  const { rows } = await db.query<{
    id: number;
    at: Date;
    actor: string;
    kind: string;
    details: Record<string, unknown>;
  }>(
    'SELECT id::int AS id, at, actor, kind, details FROM incident_timeline WHERE incident_id = $1 ORDER BY id',
    [incidentId],
  );
  return rows.map((r) => ({ ...r, at: new Date(r.at), source: 'incident' as const }));
}

/** Triage of the linked alerts (status moves, assignments, comments) from the audit log, oldest first. */
export async function alertTriageEntries(db: Queryable, alertIds: string[]): Promise<TimelineEntry[]> {
  if (alertIds.length === 0) return [];
  const { rows } = await db.query<{
    id: string;
    at: Date;
    actor_id: string | null;
    actor_name: string;
    action: string;
    target_id: string;
    before: unknown;
    after: unknown;
  }>(
    `SELECT id::text AS id, at, actor_id, actor_name, action, target_id, before, after FROM audit_log
      WHERE target_type = 'alert' AND target_id = ANY($1::text[])
        AND action IN ('alert.transition', 'alert.assign', 'alert.comment')
      ORDER BY at, audit_log.id LIMIT 2000`,
    [alertIds],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    at: new Date(row.at),
    actor: row.actor_id ? `user:${row.actor_id}` : row.actor_name,
    kind: row.action,
    details: { alertId: row.target_id, before: row.before, after: row.after },
    source: 'alert_audit' as const,
  }));
}

// ---------------------------------------------------------------------------------------------
// Escalation queue
// ---------------------------------------------------------------------------------------------

/** Claims alerts the escalation rules have not looked at since they last fired. */
export async function claimAlertsToEscalate(tx: Queryable, limit: number): Promise<AlertFacts[]> {
  const { rows } = await tx.query<AlertFactsRow>(
    `WITH pending AS (
       SELECT id FROM alerts WHERE escalation_checked_at IS NULL ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
     SELECT ${alertFactsColumns} FROM ${alertFactsFrom} JOIN pending p ON p.id = a.id ORDER BY a.created_at`,
    [limit],
  );
  return rows.map(toAlertFacts);
}

export async function markEscalationChecked(tx: Queryable, alertIds: string[]): Promise<void> {
  await tx.query('UPDATE alerts SET escalation_checked_at = now() WHERE id = ANY($1::uuid[])', [alertIds]);
}

/** Alerts of one agent whose activity overlaps [from, to]; the candidates for combination rules. */
export async function alertsOfAgentBetween(
  tx: Queryable,
  agentId: string,
  from: Date,
  to: Date,
): Promise<AlertFacts[]> {
  const { rows } = await tx.query<AlertFactsRow>(
    `SELECT ${alertFactsColumns} FROM ${alertFactsFrom}
      WHERE a.agent_id = $1 AND a.last_seen >= $2 AND a.first_seen <= $3
        AND a.status NOT IN ('false_positive')
      ORDER BY a.last_seen DESC LIMIT 500`,
    [agentId, from, to],
  );
  return rows.map(toAlertFacts);
}
