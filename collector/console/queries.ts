// The few reads the console needs that no repository offers yet: the fleet table with presence,
// health and spool depth (agents-api has no presence/health columns), a process's ancestors
// walked through stored process.start events, and the next due task of many incidents at once.
import type { Queryable } from '../db/db.js';

export interface FleetAgent {
  id: string;
  groupId: string;
  hostname: string;
  platform: string;
  os: Record<string, unknown>;
  agentVersion: string;
  presence: string;
  lastSeen: Date | null;
  health: { sensors?: Record<string, { state: string; reason?: string }> } | null;
  spoolDepth: number | null;
  revoked: boolean;
}

export const presences = ['online', 'silent', 'stopped', 'offline', 'revoked'] as const;
export type Presence = (typeof presences)[number];

export interface FleetFilter {
  groupId?: string;
  presence?: Presence;
  /** Part of the hostname, OS or version, or the agent id. */
  text?: string;
  offset: number;
  limit: number;
}

/** One page of the fleet, in group/hostname order, and how many agents match the filter in all. */
export async function fleetAgents(
  db: Queryable,
  filter: FleetFilter,
): Promise<{ agents: FleetAgent[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filter.groupId) add('group_id = ?', filter.groupId);
  if (filter.presence === 'revoked') where.push('revoked_at IS NOT NULL');
  else if (filter.presence) add('presence = ? AND revoked_at IS NULL', filter.presence);
  if (filter.text) {
    params.push(`%${filter.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const like = `$${params.length}`;
    params.push(filter.text.toLowerCase());
    where.push(
      `(hostname ILIKE ${like} OR agent_version ILIKE ${like} OR os::text ILIKE ${like} OR id::text = $${params.length})`,
    );
  }
  const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const [page, count] = await Promise.all([
    db.query<{
      id: string;
      group_id: string;
      hostname: string;
      platform: string;
      os: Record<string, unknown>;
      agent_version: string;
      presence: string;
      last_seen: Date | null;
      health: FleetAgent['health'];
      spool_depth: number | null;
      revoked: boolean;
    }>(
      `SELECT id, group_id, hostname, platform, os, agent_version, presence, last_seen, health, spool_depth,
              revoked_at IS NOT NULL AS revoked
         FROM agents ${whereSql}
        ORDER BY group_id, hostname, id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    ),
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM agents ${whereSql}`, params),
  ]);
  const agents = page.rows.map((row) => ({
    id: row.id,
    groupId: row.group_id,
    hostname: row.hostname,
    platform: row.platform,
    os: row.os,
    agentVersion: row.agent_version,
    presence: row.revoked ? 'revoked' : row.presence,
    lastSeen: row.last_seen ? new Date(row.last_seen) : null,
    health: row.health,
    spoolDepth: row.spool_depth,
    revoked: row.revoked,
  }));
  return { agents, total: count.rows[0]?.n ?? 0 };
}

export interface ProcessLink {
  pid: number;
  ppid?: number;
  name: string;
  exe: string;
  cmdline: string;
  user: string;
  signer?: string;
  sha256?: string;
  /** When the process started (the agent's reading), if recorded. */
  startTime?: string;
  /** When the agent reported it (the event time). */
  time: string;
}

/** The stored evidence event a process is looked up from. */
export interface ProcessEvidence {
  type: string;
  time: string;
  data: Record<string, unknown>;
}

// A parent older than this is not looked for: it bounds each lookup to a week of day-partitions.
const LOOKBACK = '7 days';
// A parent and child noticed in the same scan may be reported in either order.
const REPORT_SLACK = '1 minute';

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const int = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) ? value : undefined;

function linkOf(pid: number, time: string, data: Record<string, unknown>): ProcessLink {
  return {
    pid,
    ppid: int(data.ppid),
    name: String(data.name ?? ''),
    exe: String(data.exe ?? ''),
    cmdline: String(data.cmdline ?? ''),
    user: String(data.user ?? ''),
    signer: text(data.signer),
    sha256: text(data.sha256),
    startTime: text(data.startTime),
    time,
  };
}

/**
 * The latest process.start of `pid` on one agent reported by `reportedBy` (plus slack) whose process
 * started no later than `startedBy`: an earlier holder of a reused pid, or one that started after
 * the reference, is never taken. Served by the partial index events_process_start_pid.
 */
async function latestProcessStart(
  db: Queryable,
  agentId: string,
  pid: number,
  reportedBy: string,
  startedBy: string,
): Promise<ProcessLink | undefined> {
  const { rows } = await db.query<{ time: Date; data: Record<string, unknown> }>(
    `SELECT time, data FROM events
      WHERE agent_id = $1 AND type = 'process.start' AND data->>'pid' = $2
        AND time <= $3::timestamptz + $5::interval AND time >= $3::timestamptz - $6::interval
        AND (NOT data ? 'startTime' OR (data->>'startTime')::timestamptz <= $4::timestamptz)
      ORDER BY time DESC LIMIT 1`,
    [agentId, String(pid), reportedBy, startedBy, REPORT_SLACK, LOOKBACK],
  );
  const row = rows[0];
  return row ? linkOf(pid, new Date(row.time).toISOString(), row.data) : undefined;
}

/**
 * The process an evidence event names: the event itself for a process.start, otherwise the latest
 * process.start of its pid that had begun by the event (capture, capture files). Undefined when
 * the event names no pid or its start was not seen.
 */
export async function processOfEvidence(
  db: Queryable,
  agentId: string,
  event: ProcessEvidence,
): Promise<ProcessLink | undefined> {
  const pid = int(event.data.pid);
  if (pid === undefined) return undefined;
  if (event.type === 'process.start') return linkOf(pid, event.time, event.data);
  return latestProcessStart(db, agentId, pid, event.time, event.time);
}

/**
 * The ancestors of `child` on one agent, nearest first: each step finds the latest process.start
 * of the parent pid that started before the child (pid reuse guard). Stops at `depth`, at pid 1,
 * on a loop, or when the parent was not seen.
 */
export async function processAncestors(
  db: Queryable,
  agentId: string,
  child: ProcessLink,
  depth = 5,
): Promise<ProcessLink[]> {
  const chain: ProcessLink[] = [];
  const seen = new Set([child.pid]);
  let current = child;
  while (current.ppid !== undefined && current.ppid > 1 && !seen.has(current.ppid) && chain.length < depth) {
    const parent = await latestProcessStart(
      db,
      agentId,
      current.ppid,
      current.time,
      current.startTime ?? current.time,
    );
    if (!parent) break;
    chain.push(parent);
    seen.add(parent.pid);
    current = parent;
  }
  return chain;
}

/** The earliest open task with a due date of each incident, in one query (the incidents list). */
export async function nextDueTasks(
  db: Queryable,
  incidentIds: string[],
): Promise<Map<string, { title: string; dueAt: Date }>> {
  if (incidentIds.length === 0) return new Map();
  const { rows } = await db.query<{ incident_id: string; title: string; due_at: Date }>(
    `SELECT DISTINCT ON (incident_id) incident_id, title, due_at FROM incident_tasks
      WHERE incident_id = ANY($1::uuid[]) AND state IN ('todo', 'doing') AND due_at IS NOT NULL
      ORDER BY incident_id, due_at, position`,
    [incidentIds],
  );
  return new Map(rows.map((row) => [row.incident_id, { title: row.title, dueAt: new Date(row.due_at) }]));
}
