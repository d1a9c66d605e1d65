// Audit API: the append-only log, newest first, for administrators.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import { BadRequestError } from '../errors.js';
import { listAudit } from './repository.js';

const AuditRecordSchema = Type.Object({
  id: Type.String(),
  at: Type.String(),
  actorId: Type.Union([Type.String(), Type.Null()]),
  actorName: Type.String(),
  action: Type.String(),
  targetType: Type.String(),
  targetId: Type.Union([Type.String(), Type.Null()]),
  before: Type.Unknown(),
  after: Type.Unknown(),
  requestId: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
});

const AuditQuery = Type.Object({
  actor: Type.Optional(Type.String({ format: 'uuid' })),
  action: Type.Optional(Type.String({ maxLength: 100 })),
  targetType: Type.Optional(Type.String({ maxLength: 100 })),
  targetId: Type.Optional(Type.String({ maxLength: 200 })),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  cursor: Type.Optional(Type.String({ maxLength: 40 })),
});

export default fp(
  async (app: FastifyInstance) => {
    app.get(
      '/api/v1/audit',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['audit'],
          summary: 'The audit log, newest first, with filters and cursor',
          querystring: AuditQuery,
          response: {
            200: Type.Object({
              entries: Type.Array(AuditRecordSchema),
              nextCursor: Type.Union([Type.String(), Type.Null()]),
            }),
          },
        },
      },
      async (request) => {
        const q = request.query as Static<typeof AuditQuery>;
        if (q.cursor !== undefined && !/^\d{1,19}$/.test(q.cursor)) {
          throw new BadRequestError('invalid cursor', undefined, 'bad_cursor');
        }
        const limit = q.limit ?? 100;
        const entries = await listAudit(app.db, {
          actorId: q.actor,
          action: q.action,
          targetType: q.targetType,
          targetId: q.targetId,
          from: q.from,
          to: q.to,
          beforeId: q.cursor,
          limit,
        });
        const last = entries.at(-1);
        return { entries, nextCursor: entries.length === limit && last ? last.id : null };
      },
    );
  },
  { name: 'audit', dependencies: ['db', 'auth'] },
);
