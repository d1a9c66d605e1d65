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

export async function fleetAgents(db: Queryable, limit = 500): Promise<FleetAgent[]> {
  const { rows } = await db.query<{
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
       FROM agents ORDER BY group_id, hostname, id LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({
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
}

export interface ProcessLink {
  pid: number;
  name: string;
  exe: string;
  cmdline: string;
  user: string;
  time: string;
}

/**
 * The ancestors of `pid` on one agent, nearest first: each step finds the latest process.start
 * of the parent pid before the child started. Stops at `depth` or when the parent was not seen.
 */
export async function processAncestors(
  db: Queryable,
  agentId: string,
  ppid: number | undefined,
  before: string,
  depth = 5,
): Promise<ProcessLink[]> {
  const chain: ProcessLink[] = [];
  let pid = ppid;
  let until = before;
  while (pid !== undefined && pid > 1 && chain.length < depth) {
    const { rows } = await db.query<{ time: Date; data: Record<string, unknown> }>(
      `SELECT time, data FROM events
        WHERE agent_id = $1 AND type = 'process.start' AND data->>'pid' = $2 AND time <= $3::timestamptz
        ORDER BY time DESC LIMIT 1`,
      [agentId, String(pid), until],
    );
    const row = rows[0];
    if (!row) break;
    const data = row.data;
    const time = new Date(row.time).toISOString();
    chain.push({
      pid,
      name: String(data.name ?? ''),
      exe: String(data.exe ?? ''),
      cmdline: String(data.cmdline ?? ''),
      user: String(data.user ?? ''),
      time,
    });
    pid = typeof data.ppid === 'number' ? data.ppid : undefined;
    until = time;
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
