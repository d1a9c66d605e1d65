// Unexpected processes: each agent group learns the executables (path + sha256) its machines run
// during a learning period (default 7 days from its first enrollment); afterwards a process start
// whose executable the group never ran, and that its allowlist does not cover, raises an alert.
// Runs inside the ingest transaction, after the Sigma rules.
import type { EventOf, VigilEvent } from '../../shared/events.js';
import type { AgentRecord } from '../agents/repository.js';
import type { AlertMatch } from '../alerts/repository.js';
import type { Queryable } from '../db/db.js';

export const UNEXPECTED_PROCESS_RULE = {
  id: 'vigil-unexpected-process',
  title: 'Unexpected process',
  level: 'medium',
  tags: ['attack.execution'],
} as const;

export interface AllowlistEntry {
  id: string;
  groupId: string;
  pathGlob: string | null;
  name: string | null;
  sha256: string | null;
  signer: string | null;
  reason: string;
  createdAt: string;
}

type ProcessData = EventOf<'process.start'>['data'];

const MAX_EVIDENCE_STRING = 2048;

/** Long strings (command lines) cut so one alert row stays small. */
function shortened(data: ProcessData): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => [
      key,
      typeof value === 'string' && value.length > MAX_EVIDENCE_STRING
        ? `${value.slice(0, MAX_EVIDENCE_STRING)}…`
        : value,
    ]),
  );
}

/** `*` matches any run of characters, `?` one; everything else is literal. Case-insensitive. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
  return new RegExp(`^${body}$`, 'i');
}

const baseName = (path: string): string => path.split(/[\\/]/).at(-1) ?? path;

/** What the allowlist looks at in a process (a started one, or one holding a packet socket). */
export type AllowlistSubject = Pick<ProcessData, 'exe'> & {
  name?: string | undefined;
  sha256?: string | undefined;
  signer?: string | undefined;
};

/** Every criterion the entry sets must hold for the process. */
export function allowlistCovers(entry: AllowlistEntry, process: AllowlistSubject): boolean {
  if (entry.pathGlob !== null && !globToRegExp(entry.pathGlob).test(process.exe)) return false;
  if (
    entry.name !== null &&
    entry.name.toLowerCase() !== (process.name || baseName(process.exe)).toLowerCase()
  )
    return false;
  if (entry.sha256 !== null && entry.sha256.toLowerCase() !== process.sha256?.toLowerCase()) return false;
  if (entry.signer !== null && entry.signer !== process.signer) return false;
  return true;
}

interface AllowlistRow {
  id: string;
  group_id: string;
  path_glob: string | null;
  name: string | null;
  sha256: string | null;
  signer: string | null;
  reason: string;
  created_at: Date;
}

const toEntry = (row: AllowlistRow): AllowlistEntry => ({
  id: row.id,
  groupId: row.group_id,
  pathGlob: row.path_glob,
  name: row.name,
  sha256: row.sha256,
  signer: row.signer,
  reason: row.reason,
  createdAt: new Date(row.created_at).toISOString(),
});

export async function listAllowlist(db: Queryable, groupId: string): Promise<AllowlistEntry[]> {
  const { rows } = await db.query<AllowlistRow>(
    'SELECT id, group_id, path_glob, name, sha256, signer, reason, created_at FROM process_allowlist WHERE group_id = $1 ORDER BY created_at, id',
    [groupId],
  );
  return rows.map(toEntry);
}

export async function addAllowlistEntry(
  tx: Queryable,
  entry: Omit<AllowlistEntry, 'id' | 'createdAt'> & {
    sourceAlertId?: string | null;
    createdBy: string | null;
  },
): Promise<AllowlistEntry> {
  const { rows } = await tx.query<AllowlistRow>(
    `INSERT INTO process_allowlist (group_id, path_glob, name, sha256, signer, reason, source_alert_id, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     RETURNING id, group_id, path_glob, name, sha256, signer, reason, created_at`,
    [
      entry.groupId,
      entry.pathGlob,
      entry.name,
      entry.sha256?.toLowerCase() ?? null,
      entry.signer,
      entry.reason,
      entry.sourceAlertId ?? null,
      entry.createdBy,
    ],
  );
  return toEntry(rows[0]!);
}

export async function removeAllowlistEntry(
  tx: Queryable,
  groupId: string,
  id: string,
): Promise<AllowlistEntry | undefined> {
  const { rows } = await tx.query<AllowlistRow>(
    `DELETE FROM process_allowlist WHERE group_id = $1 AND id = $2
     RETURNING id, group_id, path_glob, name, sha256, signer, reason, created_at`,
    [groupId, id],
  );
  return rows[0] && toEntry(rows[0]);
}

export interface GroupLearning {
  groupId: string;
  learningDays: number;
  firstEnrollment: string | null;
  learningUntil: string | null;
  learning: boolean;
  baselineSize: number;
}

export async function groupLearning(db: Queryable, groupId: string): Promise<GroupLearning | undefined> {
  const { rows } = await db.query<{
    learning_days: number;
    first: Date | null;
    until: Date | null;
    learning: boolean;
    size: number;
  }>(
    `SELECT g.baseline_learning_days AS learning_days, f.first,
            f.first + make_interval(days => g.baseline_learning_days) AS until,
            COALESCE(f.first + make_interval(days => g.baseline_learning_days) > now(), true) AS learning,
            (SELECT count(*)::int FROM process_baseline b WHERE b.group_id = g.id) AS size
       FROM agent_groups g, LATERAL (SELECT min(enrolled_at) AS first FROM agents WHERE group_id = g.id) f
      WHERE g.id = $1`,
    [groupId],
  );
  const row = rows[0];
  return (
    row && {
      groupId,
      learningDays: row.learning_days,
      firstEnrollment: row.first ? new Date(row.first).toISOString() : null,
      learningUntil: row.until ? new Date(row.until).toISOString() : null,
      learning: row.learning,
      baselineSize: row.size,
    }
  );
}

export async function setLearningDays(tx: Queryable, groupId: string, days: number): Promise<boolean> {
  const { rowCount } = await tx.query('UPDATE agent_groups SET baseline_learning_days = $2 WHERE id = $1', [
    groupId,
    days,
  ]);
  return rowCount > 0;
}

/** How widely the fleet runs one executable. */
async function prevalence(tx: Queryable, exe: string, sha256: string, groupId: string) {
  const { rows } = await tx.query<{
    agents: number;
    group_agents: number;
    fleet: number;
    group_fleet: number;
    first_seen: Date;
  }>(
    // Both sides count only agents still enrolled: sightings of revoked agents stay stored, but
    // counting them against the live fleet would read "on 5 of 3 workstations". first_seen keeps
    // every sighting (the executable was first seen then, whoever saw it).
    `SELECT count(*) FILTER (WHERE a.revoked_at IS NULL)::int AS agents,
            count(*) FILTER (WHERE a.revoked_at IS NULL AND s.group_id = $3)::int AS group_agents,
            min(s.first_seen) AS first_seen,
            (SELECT count(*)::int FROM agents WHERE revoked_at IS NULL) AS fleet,
            (SELECT count(*)::int FROM agents WHERE revoked_at IS NULL AND group_id = $3) AS group_fleet
       FROM executable_sightings s JOIN agents a ON a.id = s.agent_id
      WHERE s.exe_path = $1 AND s.sha256 = $2`,
    [exe, sha256, groupId],
  );
  const row = rows[0]!;
  const firstSeen = new Date(row.first_seen).toISOString();
  return {
    agents: row.agents,
    fleetAgents: row.fleet,
    groupAgents: row.group_agents,
    groupFleetAgents: row.group_fleet,
    firstSeen,
    summary: `on ${row.agents} of ${row.fleet} workstations, first seen ${firstSeen}`,
  };
}

/**
 * The unexpected-process step for one stored event: records the sighting, grows the group's
 * baseline while it learns, and afterwards returns an alert match for an executable the group
 * never ran and does not allow.
 */
export async function checkUnexpectedProcess(
  tx: Queryable,
  agent: AgentRecord,
  event: VigilEvent,
): Promise<AlertMatch[]> {
  if (event.type !== 'process.start' || !event.data.exe) return [];
  const process = event.data;
  const exe = process.exe;
  const sha256 = process.sha256?.toLowerCase() ?? '';
  const at = new Date(event.time);
  await tx.query(
    `INSERT INTO executable_sightings (exe_path, sha256, agent_id, group_id, first_seen, last_seen)
     VALUES ($1, $2, $3, $4, $5, $5)
     ON CONFLICT (exe_path, sha256, agent_id) DO UPDATE SET
       first_seen = LEAST(executable_sightings.first_seen, EXCLUDED.first_seen),
       last_seen = GREATEST(executable_sightings.last_seen, EXCLUDED.last_seen)`,
    [exe, sha256, agent.id, agent.groupId, at],
  );
  const { rows } = await tx.query<{ learning: boolean; known: boolean }>(
    `SELECT COALESCE((SELECT min(enrolled_at) FROM agents WHERE group_id = g.id)
                     + make_interval(days => g.baseline_learning_days) > now(), true) AS learning,
            EXISTS (SELECT 1 FROM process_baseline b WHERE b.group_id = g.id AND b.exe_path = $2 AND b.sha256 = $3) AS known
       FROM agent_groups g WHERE g.id = $1`,
    [agent.groupId, exe, sha256],
  );
  const state = rows[0];
  if (!state) return [];
  if (state.learning) {
    await tx.query(
      `INSERT INTO process_baseline (group_id, exe_path, sha256, first_seen) VALUES ($1, $2, $3, $4)
       ON CONFLICT (group_id, exe_path, sha256) DO UPDATE SET first_seen = LEAST(process_baseline.first_seen, EXCLUDED.first_seen)`,
      [agent.groupId, exe, sha256, at],
    );
    return [];
  }
  if (state.known) return [];
  const allowlist = await listAllowlist(tx, agent.groupId);
  if (allowlist.some((entry) => allowlistCovers(entry, process))) return [];
  return [
    {
      ruleId: UNEXPECTED_PROCESS_RULE.id,
      ruleTitle: UNEXPECTED_PROCESS_RULE.title,
      level: UNEXPECTED_PROCESS_RULE.level,
      tags: [...UNEXPECTED_PROCESS_RULE.tags],
      agentId: agent.id,
      entity: sha256 ? `${exe} sha256:${sha256}` : exe,
      eventId: event.id,
      eventTime: at,
      evidence: {
        eventType: event.type,
        ...shortened(process),
        prevalence: await prevalence(tx, exe, sha256, agent.groupId),
      },
    },
  ];
}
