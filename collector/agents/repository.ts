// SQL for agent groups and agents. Plain SQL, one function per question.
import { randomUUID } from 'node:crypto';
import type { HostInventory, Policy } from '../../shared/protocol.js';
import { defaultPolicy } from '../../shared/protocol.js';
import type { Queryable } from '../db/db.js';

export interface AgentRecord {
  id: string;
  groupId: string;
  hostname: string;
  platform: string;
  revoked: boolean;
}

export interface GroupRecord {
  id: string;
  name: string;
  policy: Policy;
}

export async function findGroupBySecretHash(
  db: Queryable,
  secretHash: string,
): Promise<GroupRecord | undefined> {
  const { rows } = await db.query<{
    id: string;
    name: string;
    policy: Partial<Policy>;
    policy_revision: number;
  }>('SELECT id, name, policy, policy_revision FROM agent_groups WHERE enroll_secret_hash = $1', [
    secretHash,
  ]);
  const row = rows[0];
  return row && { id: row.id, name: row.name, policy: effectivePolicy(row.policy, row.policy_revision) };
}

/** A group's stored policy is a partial override of the defaults, so new settings get sane values. */
export function effectivePolicy(stored: Partial<Policy>, revision: number): Policy {
  return {
    ...defaultPolicy,
    ...stored,
    sensors: { ...defaultPolicy.sensors, ...stored.sensors },
    web: { ...defaultPolicy.web, ...stored.web },
    revision,
  };
}

export async function groupPolicy(db: Queryable, groupId: string): Promise<Policy> {
  const { rows } = await db.query<{ policy: Partial<Policy>; policy_revision: number }>(
    'SELECT policy, policy_revision FROM agent_groups WHERE id = $1',
    [groupId],
  );
  const row = rows[0];
  return row ? effectivePolicy(row.policy, row.policy_revision) : { ...defaultPolicy };
}

export async function ensureGroup(
  db: Queryable,
  id: string,
  name: string,
  secretHash: string | null,
): Promise<void> {
  await db.query(
    `INSERT INTO agent_groups (id, name, enroll_secret_hash) VALUES ($1, $2, $3)
     ON CONFLICT (id) DO UPDATE SET enroll_secret_hash = COALESCE(EXCLUDED.enroll_secret_hash, agent_groups.enroll_secret_hash)`,
    [id, name, secretHash],
  );
}

export async function insertAgent(
  db: Queryable,
  agent: { groupId: string; tokenHash: string; host: HostInventory; agentVersion: string },
): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO agents (id, group_id, token_hash, hostname, platform, os, system_uuid, agent_version)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      id,
      agent.groupId,
      agent.tokenHash,
      agent.host.hostname,
      agent.host.os.platform,
      JSON.stringify(agent.host.os),
      agent.host.systemUuid,
      agent.agentVersion,
    ],
  );
  return id;
}

export async function findAgentByTokenHash(
  db: Queryable,
  tokenHash: string,
): Promise<AgentRecord | undefined> {
  const { rows } = await db.query<{
    id: string;
    group_id: string;
    hostname: string;
    platform: string;
    revoked_at: Date | null;
  }>('SELECT id, group_id, hostname, platform, revoked_at FROM agents WHERE token_hash = $1', [tokenHash]);
  const row = rows[0];
  return (
    row && {
      id: row.id,
      groupId: row.group_id,
      hostname: row.hostname,
      platform: row.platform,
      revoked: row.revoked_at !== null,
    }
  );
}

export async function recordHello(
  db: Queryable,
  agentId: string,
  hello: { host: HostInventory; agentVersion: string },
): Promise<void> {
  await db.query(
    `UPDATE agents SET hostname = $2, platform = $3, os = $4, system_uuid = $5, agent_version = $6, last_seen = now(),
            presence = 'online', presence_changed_at = now()
      WHERE id = $1`,
    [
      agentId,
      hello.host.hostname,
      hello.host.os.platform,
      JSON.stringify(hello.host.os),
      hello.host.systemUuid,
      hello.agentVersion,
    ],
  );
}

/** A heartbeat: the agent is alive (again, if it had been marked silent). */
export async function touchAgent(db: Queryable, agentId: string, spoolDepth?: number): Promise<void> {
  await db.query(
    `UPDATE agents SET last_seen = now(), spool_depth = COALESCE($2, spool_depth),
            presence = 'online',
            presence_changed_at = CASE WHEN presence = 'online' THEN presence_changed_at ELSE now() END
      WHERE id = $1 AND revoked_at IS NULL`,
    [agentId, spoolDepth ?? null],
  );
}

export async function revokeAgent(db: Queryable, agentId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE agents SET revoked_at = now(), presence = 'revoked', presence_changed_at = now()
      WHERE id = $1 AND revoked_at IS NULL`,
    [agentId],
  );
  return rowCount > 0;
}

export interface GroupSummary {
  id: string;
  name: string;
  policy: Policy;
  agents: number;
}

export async function listGroups(db: Queryable): Promise<GroupSummary[]> {
  const { rows } = await db.query<{
    id: string;
    name: string;
    policy: Partial<Policy>;
    policy_revision: number;
    agents: number;
  }>(
    `SELECT g.id, g.name, g.policy, g.policy_revision, count(a.id)::int AS agents
       FROM agent_groups g LEFT JOIN agents a ON a.group_id = g.id AND a.revoked_at IS NULL
      GROUP BY g.id ORDER BY g.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    policy: effectivePolicy(r.policy, r.policy_revision),
    agents: r.agents,
  }));
}

/** Stores a group's policy override and bumps its revision; returns the effective policy. */
export async function updateGroupPolicy(
  db: Queryable,
  groupId: string,
  policy: Partial<Policy>,
): Promise<Policy | undefined> {
  const { rows } = await db.query<{ policy: Partial<Policy>; policy_revision: number }>(
    `UPDATE agent_groups SET policy = $2, policy_revision = nextval('policy_revision_seq') WHERE id = $1
     RETURNING policy, policy_revision`,
    [groupId, JSON.stringify(policy)],
  );
  const row = rows[0];
  return row && effectivePolicy(row.policy, row.policy_revision);
}

export async function setGroupSecret(db: Queryable, groupId: string, secretHash: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE agent_groups SET enroll_secret_hash = $2 WHERE id = $1', [
    groupId,
    secretHash,
  ]);
  return rowCount > 0;
}

export async function agentIdsInGroup(db: Queryable, groupId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    'SELECT id FROM agents WHERE group_id = $1 AND revoked_at IS NULL',
    [groupId],
  );
  return rows.map((r) => r.id);
}
