// Incidents API (/api/v1/incidents) and the two background jobs that feed it: the escalation
// worker (alerts → incidents, by rules kept as data) and the overdue job (tasks past due → trigger).
// Handlers only translate HTTP; the changes live in service.ts, SQL in repository.ts.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import { levels } from '../alerts/repository.js';
import { actorOf as auditActorOf } from '../audit/repository.js';
import type { CollectorConfig } from '../config.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import { createOutboxSignal, type OutboxSignal } from '../notify/outbox.js';
import { loadJurisdictions } from './deadlines.js';
import { loadEscalationRules, PeriodicJob, runEscalationPass } from './escalation.js';
import { publicBaseUrl } from './links.js';
import {
  claimOverdueTasks,
  contactRoles,
  dataCategories,
  getIncident,
  incidentStatuses,
  listIncidents,
  resolutions,
  taskStates,
} from './repository.js';
import {
  announceOverdue,
  type IncidentContext,
  type IncidentFields,
  linkAlertsToIncident,
  openIncident,
  updateIncident,
  updateTask,
} from './service.js';
import { incidentDetail, incidentSummary } from './view.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Fired after a commit that wrote outbox rows, so this process delivers them at once. */
    outboxSignal: OutboxSignal;
  }
}

const Uuid = Type.String({ format: 'uuid' });
const When = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const ContactSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    email: Type.Optional(Type.String({ maxLength: 320 })),
    phone: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
const Fields = {
  summary: Type.Optional(Type.String({ maxLength: 10_000 })),
  severity: Type.Optional(Type.Enum(levels)),
  ownerId: Type.Optional(Type.Union([Uuid, Type.Null()])),
  affectedAgentIds: Type.Optional(Type.Array(Uuid, { maxItems: 1000 })),
  affectedUsers: Type.Optional(Type.Array(Type.String({ maxLength: 512 }), { maxItems: 1000 })),
  dataCategories: Type.Optional(Type.Array(Type.Enum([...dataCategories]), { uniqueItems: true })),
  affectedCounts: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0 }))),
  awareAt: Type.Optional(When),
  determinedAt: Type.Optional(When),
  discoveredAt: Type.Optional(When),
  containedAt: Type.Optional(When),
  timezone: Type.Optional(Type.String({ maxLength: 64 })),
  contacts: Type.Optional(
    Type.Object(Object.fromEntries(contactRoles.map((role) => [role, Type.Optional(ContactSchema)])), {
      additionalProperties: false,
    }),
  ),
  hotline: Type.Optional(
    Type.Object(
      {
        ahtSec: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
        callShare: Type.Optional(Type.Object({ low: Type.Number(), high: Type.Number() })),
        targetServiceLevel: Type.Optional(Type.Number()),
        targetAnswerSec: Type.Optional(Type.Number({ minimum: 0 })),
        outsourcerPool: Type.Optional(
          Type.Union([
            Type.Object({ agents: Type.Integer({ minimum: 0 }), shrinkage: Type.Number() }),
            Type.Null(),
          ]),
        ),
      },
      { additionalProperties: false },
    ),
  ),
};
const CreateBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 300 }),
    ...Fields,
    severity: Type.Enum(levels),
    alertIds: Type.Optional(Type.Array(Uuid, { maxItems: 500 })),
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
    ...Fields,
    status: Type.Optional(Type.Enum([...incidentStatuses])),
    resolution: Type.Optional(Type.Enum([...resolutions])),
  },
  { additionalProperties: false },
);
const TaskBody = Type.Object(
  {
    state: Type.Optional(Type.Enum([...taskStates])),
    ownerId: Type.Optional(Type.Union([Uuid, Type.Null()])),
    dueAt: Type.Optional(When),
  },
  { additionalProperties: false },
);
const ListQuery = Type.Object({
  status: Type.Optional(Type.Enum([...incidentStatuses])),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  cursor: Type.Optional(Type.String({ maxLength: 200 })),
});
const IdParams = Type.Object({ id: Uuid });

const toDate = (value: string | null | undefined) =>
  value === undefined ? undefined : value === null ? null : new Date(value);

function fieldsFrom(body: Partial<Static<typeof PatchBody>>): IncidentFields {
  return {
    title: body.title,
    summary: body.summary,
    severity: body.severity as IncidentFields['severity'],
    ownerId: body.ownerId,
    extraAgentIds: body.affectedAgentIds,
    extraUsers: body.affectedUsers,
    dataCategories: body.dataCategories as IncidentFields['dataCategories'],
    affectedCounts: body.affectedCounts,
    awareAt: toDate(body.awareAt),
    determinedAt: toDate(body.determinedAt),
    discoveredAt: toDate(body.discoveredAt),
    containedAt: toDate(body.containedAt),
    timezone: body.timezone,
    contacts: body.contacts,
    hotline: body.hotline as IncidentFields['hotline'],
  };
}

const encodeCursor = (createdAt: string, id: string) =>
  Buffer.from(`${createdAt}|${id}`).toString('base64url');
function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)))
    throw new BadRequestError('invalid cursor', undefined, 'bad_cursor');
  return { createdAt, id };
}

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig }) => {
    const { config } = opts;
    // Read when a trigger is written: the listening port is only known after listen (port 0).
    const ctx: IncidentContext = {
      get publicUrl() {
        return publicBaseUrl(config, app.server.listening ? app.server.address() : null);
      },
    };
    const rules = loadEscalationRules(config.escalationRulesFile);
    const signal = createOutboxSignal();
    app.decorate('outboxSignal', signal);
    const actorOf = (request: { principal?: { userId: string } }) => `user:${request.principal!.userId}`;

    /** Runs a change in one transaction; wakes the delivery worker once it committed. */
    const change = async <T>(fn: Parameters<typeof app.db.transaction<T>>[0]): Promise<T> => {
      const result = await app.db.transaction(fn);
      signal.written();
      return result;
    };

    const detailOf = async (id: string) => {
      const incident = await getIncident(app.db, id);
      if (!incident) throw new NotFoundError('incident', 'incident_not_found');
      return incidentDetail(app.db, incident);
    };

    app.post(
      '/api/v1/incidents',
      {
        preHandler: app.requireRole('analyst'),
        schema: {
          tags: ['incidents'],
          summary: 'Open an incident, optionally from alerts',
          body: CreateBody,
        },
      },
      async (request, reply) => {
        const body = request.body as Static<typeof CreateBody>;
        const incident = await change((tx) =>
          openIncident(
            tx,
            ctx,
            {
              ...fieldsFrom(body),
              title: body.title,
              severity: body.severity as never,
              alertIds: body.alertIds,
            },
            actorOf(request),
            auditActorOf(request),
          ),
        );
        return reply.status(201).send(await detailOf(incident!.id));
      },
    );

    app.get(
      '/api/v1/incidents',
      {
        preHandler: app.requireRole('viewer'),
        schema: { tags: ['incidents'], summary: 'List incidents, newest first', querystring: ListQuery },
      },
      async (request) => {
        const q = request.query as Static<typeof ListQuery>;
        const limit = q.limit ?? 50;
        const incidents = await listIncidents(app.db, {
          status: q.status as never,
          limit,
          after: q.cursor ? decodeCursor(q.cursor) : undefined,
        });
        const last = incidents.at(-1);
        return {
          incidents: incidents.map(incidentSummary),
          nextCursor:
            incidents.length === limit && last ? encodeCursor(last.createdAt.toISOString(), last.id) : null,
        };
      },
    );

    app.get(
      '/api/v1/incidents/:id',
      {
        preHandler: app.requireRole('viewer'),
        schema: {
          tags: ['incidents'],
          summary: 'One incident with deadlines, tasks, forecast and timeline',
          params: IdParams,
        },
      },
      async (request) => detailOf((request.params as { id: string }).id),
    );

    app.patch(
      '/api/v1/incidents/:id',
      {
        preHandler: app.requireRole('incident_manager'),
        schema: { tags: ['incidents'], summary: 'Change an incident', params: IdParams, body: PatchBody },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const body = request.body as Static<typeof PatchBody>;
        await change((tx) =>
          updateIncident(
            tx,
            ctx,
            id,
            { ...fieldsFrom(body), status: body.status as never, resolution: body.resolution as never },
            actorOf(request),
            auditActorOf(request),
          ),
        );
        return detailOf(id);
      },
    );

    app.post(
      '/api/v1/incidents/:id/alerts',
      {
        preHandler: app.requireRole('analyst'),
        schema: {
          tags: ['incidents'],
          summary: 'Link further alerts (an alert belongs to at most one incident)',
          params: IdParams,
          body: Type.Object(
            { alertIds: Type.Array(Uuid, { minItems: 1, maxItems: 500 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const { alertIds } = request.body as { alertIds: string[] };
        const linked = await change((tx) =>
          linkAlertsToIncident(tx, id, alertIds, actorOf(request), auditActorOf(request)),
        );
        return { linked };
      },
    );

    app.patch(
      '/api/v1/incidents/:id/tasks/:key',
      {
        preHandler: app.requireRole('incident_manager'),
        schema: {
          tags: ['incidents'],
          summary: 'Update a checklist task (state, owner, due date)',
          params: Type.Object({ id: Uuid, key: Type.String({ minLength: 1, maxLength: 200 }) }),
          body: TaskBody,
        },
      },
      async (request) => {
        const { id, key } = request.params as { id: string; key: string };
        const body = request.body as Static<typeof TaskBody>;
        await change((tx) =>
          updateTask(
            tx,
            id,
            key,
            { state: body.state as never, ownerId: body.ownerId, dueAt: toDate(body.dueAt) },
            actorOf(request),
            auditActorOf(request),
          ),
        );
        return detailOf(id);
      },
    );

    app.get(
      '/api/v1/jurisdictions',
      {
        preHandler: app.requireRole('viewer'),
        schema: {
          tags: ['incidents'],
          summary: 'The notification rules per jurisdiction, with their sources (not legal advice)',
        },
      },
      async () => loadJurisdictions(),
    );

    const escalation = new PeriodicJob(
      'escalation',
      config.escalationPollMs ?? 1000,
      async () => {
        const batch = 100;
        const outcome = await runEscalationPass(app.db, ctx, rules, batch);
        if (outcome.opened.length > 0 || outcome.linked.length > 0) signal.written();
        return outcome.evaluated === batch;
      },
      app.log,
    );
    const overdue = new PeriodicJob(
      'overdue',
      config.overduePollMs ?? 15_000,
      async () => {
        const batch = 50;
        const claimed = await app.db.transaction(async (tx) => {
          const tasks = await claimOverdueTasks(tx, batch);
          for (const task of tasks) await announceOverdue(tx, ctx, task);
          return tasks.length;
        });
        if (claimed > 0) signal.written();
        return claimed === batch;
      },
      app.log,
    );
    app.addHook('onReady', async () => {
      escalation.start();
      overdue.start();
    });
    // preClose: before the database closes (onClose of the db plugin).
    app.addHook('preClose', async () => {
      await Promise.all([escalation.stop(), overdue.stop()]);
    });
  },
  { name: 'incidents', dependencies: ['db', 'auth'] },
);
