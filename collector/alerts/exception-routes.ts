// Exceptions API: create one from an alert, list them with their hit counters, revoke one.
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { actorOf, recordAudit } from '../audit/repository.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import { getException, listExceptions, revokeException } from './exceptions.js';
import { ErrorBody, ExceptionBody, ExceptionSchema, IdParams } from './schemas.js';
import { createExceptionFromAlert } from './triage.js';

const ListQuery = Type.Object({
  rule: Type.Optional(Type.String({ maxLength: 200 })),
  active: Type.Optional(Type.Boolean()),
});

export default function registerExceptionRoutes(app: FastifyInstance): void {
  app.post(
    '/api/v1/alerts/:id/exceptions',
    {
      preHandler: app.requireRole('analyst'),
      schema: {
        tags: ['exceptions'],
        summary:
          "Create an exception for the alert's rule (scope rule, group or agent; optional field values)",
        params: IdParams,
        body: ExceptionBody,
        response: { 201: ExceptionSchema, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const { id } = request.params as Static<typeof IdParams>;
      const body = request.body as Static<typeof ExceptionBody>;
      const expiresAt = body.expiresAt ?? null;
      if (expiresAt !== null && Date.parse(expiresAt) <= Date.now()) {
        throw new BadRequestError('expiresAt is in the past', undefined, 'expiry_in_past');
      }
      const created = await createExceptionFromAlert(
        app.db,
        { ...actorOf(request), userId: request.principal!.userId },
        id,
        {
          scope: body.scope,
          fields: body.fields ?? {},
          reason: body.reason,
          expiresAt,
        },
      );
      app.alertExceptions.invalidate();
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/api/v1/exceptions',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['exceptions'],
        summary: 'Exceptions with their hit counters, newest first',
        querystring: ListQuery,
        response: { 200: Type.Object({ exceptions: Type.Array(ExceptionSchema) }) },
      },
    },
    async (request) => {
      const q = request.query as Static<typeof ListQuery>;
      return { exceptions: await listExceptions(app.db, { ruleId: q.rule, active: q.active }) };
    },
  );

  app.get(
    '/api/v1/exceptions/:id',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['exceptions'],
        summary: 'One exception',
        params: IdParams,
        response: { 200: ExceptionSchema, 404: ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const found = await getException(app.db, id);
      if (!found) throw new NotFoundError('exception');
      return found;
    },
  );

  app.delete(
    '/api/v1/exceptions/:id',
    {
      preHandler: app.requireRole('analyst'),
      schema: {
        tags: ['exceptions'],
        summary: 'Revoke an exception (matches raise alerts again)',
        params: IdParams,
        response: { 200: ExceptionSchema, 404: ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof IdParams>;
      const revoked = await app.db.transaction(async (tx) => {
        const before = await getException(tx, id);
        const after = await revokeException(tx, id);
        if (!after) throw new NotFoundError('live exception');
        await recordAudit(tx, actorOf(request), {
          action: 'exception.revoke',
          targetType: 'exception',
          targetId: id,
          before,
          after,
        });
        return after;
      });
      app.alertExceptions.invalidate();
      return revoked;
    },
  );
}
