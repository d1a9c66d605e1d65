// Alerts API: list with filters and cursor pagination, and one alert with its evidence.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import { BadRequestError, NotFoundError } from '../errors.js';
import { getAlert, levels, listAlerts } from './repository.js';

const AlertSchema = Type.Object({
  id: Type.String(),
  ruleId: Type.String(),
  ruleTitle: Type.String(),
  level: Type.String(),
  tags: Type.Array(Type.String()),
  agentId: Type.String(),
  hostname: Type.String(),
  entity: Type.String(),
  status: Type.String(),
  count: Type.Integer(),
  firstSeen: Type.String(),
  lastSeen: Type.String(),
  evidence: Type.Record(Type.String(), Type.Unknown()),
});

const ListQuery = Type.Object({
  status: Type.Optional(Type.Enum(['open', 'acknowledged', 'resolved', 'false_positive'])),
  level: Type.Optional(Type.Enum(levels)),
  rule: Type.Optional(Type.String({ maxLength: 200 })),
  agent: Type.Optional(Type.String({ format: 'uuid' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});

const encodeCursor = (lastSeen: string, id: string) => Buffer.from(`${lastSeen}|${id}`).toString('base64url');
function decodeCursor(cursor: string): { lastSeen: string; id: string } {
  const [lastSeen, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!lastSeen || !id || Number.isNaN(Date.parse(lastSeen)))
    throw new BadRequestError('invalid cursor', undefined, 'bad_cursor');
  return { lastSeen, id };
}

export default fp(
  async (app: FastifyInstance) => {
    app.get(
      '/api/v1/alerts',
      {
        preHandler: app.requireRole('viewer'),
        schema: {
          tags: ['alerts'],
          summary: 'List alerts, newest activity first',
          querystring: ListQuery,
          response: {
            200: Type.Object({
              alerts: Type.Array(AlertSchema),
              nextCursor: Type.Union([Type.String(), Type.Null()]),
            }),
          },
        },
      },
      async (request) => {
        const q = request.query as Static<typeof ListQuery>;
        const limit = q.limit ?? 50;
        const alerts = await listAlerts(app.db, {
          status: q.status as never,
          level: q.level as never,
          ruleId: q.rule,
          agentId: q.agent,
          limit,
          after: q.cursor ? decodeCursor(q.cursor) : undefined,
        });
        const last = alerts.at(-1);
        return {
          alerts,
          nextCursor: alerts.length === limit && last ? encodeCursor(last.lastSeen, last.id) : null,
        };
      },
    );

    app.get(
      '/api/v1/alerts/:id',
      {
        preHandler: app.requireRole('viewer'),
        schema: {
          tags: ['alerts'],
          summary: 'One alert with its evidence',
          params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
          response: {
            200: Type.Intersect([AlertSchema, Type.Object({ eventIds: Type.Array(Type.String()) })]),
          },
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const alert = await getAlert(app.db, id);
        if (!alert) throw new NotFoundError('alert');
        return alert;
      },
    );
  },
  { name: 'alerts', dependencies: ['db', 'auth'] },
);
