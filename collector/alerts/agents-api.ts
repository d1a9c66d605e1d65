// Agents API for reviewers: the fleet's agents with group, host, version and whether they were
// heard from lately (last_seen within two heartbeats), plus their open alert counts.
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import type { Queryable } from '../db/db.js';
import { NotFoundError } from '../errors.js';
import { BadCursorError } from './errors.js';
import { ErrorBody, IdParams } from './schemas.js';

/** Two heartbeat intervals: an agent quiet for longer is not online. */
export const ONLINE_WITHIN_MS = 45_000;

const AgentSchema = Type.Object({
  id: Type.String(),
  groupId: Type.String(),
  hostname: Type.String(),
  platform: Type.String(),
  os: Type.Record(Type.String(), Type.Unknown()),
  agentVersion: Type.String(),
  enrolledAt: Type.String(),
  lastSeen: Type.Union([Type.String(), Type.Null()]),
  online: Type.Boolean(),
  revoked: Type.Boolean(),
  openAlerts: Type.Integer(),
});
type AgentView = Static<typeof AgentSchema>;

const ListQuery = Type.Object({
  group: Type.Optional(Type.String({ maxLength: 200 })),
  hostname: Type.Optional(Type.String({ maxLength: 200 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
  cursor: Type.Optional(Type.String({ maxLength: 600 })),
});

interface AgentRow {
  id: string;
  group_id: string;
  hostname: string;
  platform: string;
  os: Record<string, unknown>;
  agent_version: string;
  enrolled_at: Date;
  last_seen: Date | null;
  online: boolean;
  revoked: boolean;
  open_alerts: number;
}

const agentSelect = `SELECT a.id, a.group_id, a.hostname, a.platform, a.os, a.agent_version, a.enrolled_at, a.last_seen,
    COALESCE(a.last_seen > now() - make_interval(secs => $1), false) AS online, a.revoked_at IS NOT NULL AS revoked,
    (SELECT count(*)::int FROM alerts x WHERE x.agent_id = a.id AND x.status IN ('open', 'acknowledged')) AS open_alerts
  FROM agents a`;

const toView = (row: AgentRow): AgentView => ({
  id: row.id,
  groupId: row.group_id,
  hostname: row.hostname,
  platform: row.platform,
  os: row.os,
  agentVersion: row.agent_version,
  enrolledAt: new Date(row.enrolled_at).toISOString(),
  lastSeen: row.last_seen ? new Date(row.last_seen).toISOString() : null,
  online: row.online,
  revoked: row.revoked,
  openAlerts: row.open_alerts,
});

/** Agents by hostname then id; `after` continues after that (hostname, id). */
export async function listAgentViews(
  db: Queryable,
  filter: { groupId?: string; hostname?: string; limit: number; after?: { hostname: string; id: string } },
): Promise<AgentView[]> {
  const params: unknown[] = [ONLINE_WITHIN_MS / 1000];
  const where: string[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (filter.groupId) where.push(`a.group_id = ${param(filter.groupId)}`);
  if (filter.hostname)
    where.push(`a.hostname ILIKE ${param(`%${filter.hostname.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
  if (filter.after)
    where.push(`(a.hostname, a.id) > (${param(filter.after.hostname)}, ${param(filter.after.id)}::uuid)`);
  const { rows } = await db.query<AgentRow>(
    `${agentSelect} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY a.hostname, a.id LIMIT ${param(filter.limit)}`,
    params,
  );
  return rows.map(toView);
}

export async function getAgentView(db: Queryable, id: string): Promise<AgentView | undefined> {
  const { rows } = await db.query<AgentRow>(`${agentSelect} WHERE a.id = $2`, [ONLINE_WITHIN_MS / 1000, id]);
  return rows[0] && toView(rows[0]);
}

const encode = (agent: AgentView) =>
  Buffer.from(JSON.stringify([agent.hostname, agent.id])).toString('base64url');
function decode(cursor: string): { hostname: string; id: string } | undefined {
  try {
    const [hostname, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown[];
    if (typeof hostname === 'string' && typeof id === 'string' && /^[0-9a-f-]{36}$/i.test(id))
      return { hostname, id };
  } catch {}
  return undefined;
}

export default function registerAgentRoutes(app: FastifyInstance): void {
  app.get(
    '/api/v1/agents',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['agents'],
        summary: 'Agents with group, host, version, last seen and online state',
        querystring: ListQuery,
        response: {
          200: Type.Object({
            agents: Type.Array(AgentSchema),
            nextCursor: Type.Union([Type.String(), Type.Null()]),
          }),
          400: ErrorBody,
        },
      },
    },
    async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      const limit = q.limit ?? 200;
      const after = q.cursor === undefined ? undefined : decode(q.cursor);
      if (q.cursor !== undefined && !after) {
        throw new BadCursorError();
      }
      const agents = await listAgentViews(app.db, { groupId: q.group, hostname: q.hostname, limit, after });
      const last = agents.at(-1);
      return { agents, nextCursor: agents.length === limit && last ? encode(last) : null };
    },
  );

  app.get(
    '/api/v1/agents/:id',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['agents'],
        summary: 'One agent',
        params: IdParams,
        response: { 200: AgentSchema, 404: ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const agent = await getAgentView(app.db, id);
      if (!agent) throw new NotFoundError('agent');
      return agent;
    },
  );
}
