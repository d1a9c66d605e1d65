// Alerts API: list and read alerts, triage them (status, assignee, comments, bulk), create
// exceptions from them and approve unexpected processes. Handlers stay thin: SQL lives in the
// repositories, transactions with their audit records in triage.ts.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import { actorOf } from '../audit/repository.js';
import { BadRequestError } from '../errors.js';
import registerAgentRoutes from './agents-api.js';
import registerAllowlistRoutes from './allowlist-routes.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import registerExceptionRoutes from './exception-routes.js';
import { listAlerts, listComments } from './repository.js';
import {
  AlertDetailSchema,
  AlertSchema,
  AllowlistEntrySchema,
  ApproveBody,
  AssignBody,
  alertSummary,
  BulkBody,
  BulkResponse,
  CommentBody,
  CommentSchema,
  ErrorBody,
  IdParams,
  ListQuery,
  TransitionBody,
} from './schemas.js';
import { approveProcess, assign, bulk, comment, readAlertEvidence, transition } from './triage.js';

export default fp(
  async (app: FastifyInstance) => {
    app.get(
      '/api/v1/alerts',
      {
        preHandler: app.requireRole('viewer'),
        schema: {
          tags: ['alerts'],
          summary: 'List alerts with filters, sorting (last_seen desc by default) and cursor pagination',
          querystring: ListQuery,
          response: {
            200: Type.Object({
              alerts: Type.Array(AlertSchema),
              nextCursor: Type.Union([Type.String(), Type.Null()]),
            }),
            400: ErrorBody,
          },
        },
      },
      async (request) => {
        const q = request.query as Static<typeof ListQuery>;
        const sort = q.sort ?? 'last_seen';
        const order = q.order ?? 'desc';
        const { alerts, next } = await listAlerts(app.db, {
          status: q.status,
          level: q.level,
          ruleId: q.rule,
          agentId: q.agent,
          groupId: q.group,
          assigneeId: q.assignee,
          from: q.from,
          to: q.to,
          text: q.q,
          sort,
          order,
          limit: q.limit ?? 50,
          after: q.cursor ? decodeCursor(q.cursor, sort, order) : undefined,
        });
        return {
          alerts: alerts.map(alertSummary),
          nextCursor: next ? encodeCursor(sort, order, next) : null,
        };
      },
    );

    app.get(
      '/api/v1/alerts/:id',
      {
        preHandler: app.requireRole('viewer'),
        schema: {
          tags: ['alerts'],
          summary: 'One alert with its evidence events (the read is audited)',
          params: IdParams,
          response: { 200: AlertDetailSchema, 404: ErrorBody },
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof IdParams>;
        const detail = await readAlertEvidence(app.db, actorOf(request), id);
        return { ...alertSummary(detail), ...detail, eventIds: detail.events.map((e) => e.id) };
      },
    );

    app.post(
      '/api/v1/alerts/:id/transition',
      {
        preHandler: app.requireRole('analyst'),
        schema: {
          tags: ['alerts'],
          summary:
            'Change the status: open → acknowledged → resolved | false_positive (closing needs a reason)',
          params: IdParams,
          body: TransitionBody,
          response: { 200: AlertSchema, 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof IdParams>;
        const body = request.body as Static<typeof TransitionBody>;
        return alertSummary(await transition(app.db, actorOf(request), id, body.status, body.reason));
      },
    );

    app.post(
      '/api/v1/alerts/:id/assign',
      {
        preHandler: app.requireRole('analyst'),
        schema: {
          tags: ['alerts'],
          summary: 'Assign the alert to a user, or unassign it (userId null)',
          params: IdParams,
          body: AssignBody,
          response: { 200: AlertSchema, 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof IdParams>;
        const { userId } = request.body as Static<typeof AssignBody>;
        return alertSummary(await assign(app.db, actorOf(request), id, userId));
      },
    );

    app.post(
      '/api/v1/alerts/bulk',
      {
        preHandler: app.requireRole('analyst'),
        schema: {
          tags: ['alerts'],
          summary: 'Acknowledge or assign many alerts; each one reports its own outcome',
          body: BulkBody,
          response: { 200: BulkResponse, 400: ErrorBody },
        },
      },
      async (request) => {
        const body = request.body as Static<typeof BulkBody>;
        if (body.action === 'assign' && body.userId === undefined) {
          throw new BadRequestError(
            'assign needs userId (a user id, or null to unassign)',
            undefined,
            'user_id_required',
          );
        }
        const action =
          body.action === 'assign'
            ? { action: 'assign' as const, userId: body.userId ?? null }
            : { action: 'acknowledge' as const };
        return { results: await bulk(app.db, actorOf(request), body.ids, action) };
      },
    );

    app.get(
      '/api/v1/alerts/:id/comments',
      {
        preHandler: app.requireRole('viewer'),
        schema: {
          tags: ['alerts'],
          summary: "The alert's comments, oldest first",
          params: IdParams,
          response: { 200: Type.Object({ comments: Type.Array(CommentSchema) }) },
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof IdParams>;
        return { comments: await listComments(app.db, id) };
      },
    );

    app.post(
      '/api/v1/alerts/:id/comments',
      {
        preHandler: app.requireRole('analyst'),
        schema: {
          tags: ['alerts'],
          summary: 'Comment on the alert',
          params: IdParams,
          body: CommentBody,
          response: { 201: CommentSchema, 404: ErrorBody },
        },
      },
      async (request, reply) => {
        const { id } = request.params as Static<typeof IdParams>;
        const { text } = request.body as Static<typeof CommentBody>;
        const actor = actorOf(request);
        const created = await comment(app.db, { ...actor, userId: request.principal!.userId }, id, text);
        return reply.status(201).send(created);
      },
    );

    app.post(
      '/api/v1/alerts/:id/approve',
      {
        preHandler: app.requireRole('analyst'),
        schema: {
          tags: ['alerts'],
          summary:
            "Approve an unexpected process: allowlist its executable in the agent's group and resolve the alert",
          params: IdParams,
          body: ApproveBody,
          response: {
            200: Type.Object({ alert: AlertSchema, allowlistEntry: AllowlistEntrySchema }),
            400: ErrorBody,
            404: ErrorBody,
            409: ErrorBody,
          },
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof IdParams>;
        const { reason } = request.body as Static<typeof ApproveBody>;
        const approved = await approveProcess(app.db, actorOf(request), id, reason);
        return { alert: alertSummary(approved.alert), allowlistEntry: approved.allowlistEntry };
      },
    );

    registerExceptionRoutes(app);
    registerAllowlistRoutes(app);
    registerAgentRoutes(app);
  },
  { name: 'alerts', dependencies: ['db', 'auth', 'alert-exceptions'] },
);
