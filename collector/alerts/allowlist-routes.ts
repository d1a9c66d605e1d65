// Unexpected-process settings of a group: its allowlist and its learning period.
// Allowlist entries need the analyst role, like approving a process from its alert (which adds an
// entry) and like exceptions: suppressing what analysts reviewed is their call. The learning
// period changes how a whole group is watched and stays with incident managers.
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { actorOf, recordAudit } from '../audit/repository.js';
import {
  addAllowlistEntry,
  groupLearning,
  listAllowlist,
  removeAllowlistEntry,
  setLearningDays,
} from '../detection/baseline.js';
import { NotFoundError } from '../errors.js';
import {
  AllowlistBody,
  AllowlistEntrySchema,
  ErrorBody,
  GroupParams,
  LearningBody,
  LearningSchema,
} from './schemas.js';

const EntryParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  entryId: Type.String({ format: 'uuid' }),
});

export default function registerAllowlistRoutes(app: FastifyInstance): void {
  const requireGroup = async (groupId: string) => {
    const learning = await groupLearning(app.db, groupId);
    if (!learning) throw new NotFoundError('group');
    return learning;
  };

  app.get(
    '/api/v1/groups/:id/allowlist',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['baseline'],
        summary: "The group's process allowlist",
        params: GroupParams,
        response: { 200: Type.Object({ entries: Type.Array(AllowlistEntrySchema) }), 404: ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof GroupParams>;
      await requireGroup(id);
      return { entries: await listAllowlist(app.db, id) };
    },
  );

  app.post(
    '/api/v1/groups/:id/allowlist',
    {
      preHandler: app.requireRole('analyst'),
      schema: {
        tags: ['baseline'],
        summary:
          'Allow processes in the group by path glob, name, sha256 and/or signer (all given must match)',
        params: GroupParams,
        body: AllowlistBody,
        response: { 201: AllowlistEntrySchema, 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request, reply) => {
      const { id } = request.params as Static<typeof GroupParams>;
      const body = request.body as Static<typeof AllowlistBody>;
      await requireGroup(id);
      const entry = await app.db.transaction(async (tx) => {
        const created = await addAllowlistEntry(tx, {
          groupId: id,
          pathGlob: body.pathGlob ?? null,
          name: body.name ?? null,
          sha256: body.sha256 ?? null,
          signer: body.signer ?? null,
          reason: body.reason,
          createdBy: request.principal!.userId,
        });
        await recordAudit(tx, actorOf(request), {
          action: 'allowlist.add',
          targetType: 'allowlist',
          targetId: created.id,
          after: created,
        });
        return created;
      });
      return reply.status(201).send(entry);
    },
  );

  app.delete(
    '/api/v1/groups/:id/allowlist/:entryId',
    {
      preHandler: app.requireRole('analyst'),
      schema: {
        tags: ['baseline'],
        summary: 'Remove an allowlist entry',
        params: EntryParams,
        response: { 200: AllowlistEntrySchema, 404: ErrorBody },
      },
    },
    async (request) => {
      const { id, entryId } = request.params as Static<typeof EntryParams>;
      return app.db.transaction(async (tx) => {
        const removed = await removeAllowlistEntry(tx, id, entryId);
        if (!removed) throw new NotFoundError('allowlist entry');
        await recordAudit(tx, actorOf(request), {
          action: 'allowlist.remove',
          targetType: 'allowlist',
          targetId: entryId,
          before: removed,
        });
        return removed;
      });
    },
  );

  app.get(
    '/api/v1/groups/:id/baseline',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['baseline'],
        summary: "The group's learning period and baseline size",
        params: GroupParams,
        response: { 200: LearningSchema, 404: ErrorBody },
      },
    },
    async (request) => requireGroup((request.params as Static<typeof GroupParams>).id),
  );

  app.put(
    '/api/v1/groups/:id/baseline',
    {
      preHandler: app.requireRole('incident_manager'),
      schema: {
        tags: ['baseline'],
        summary: "Set the group's learning period in days (counted from its first enrollment)",
        params: GroupParams,
        body: LearningBody,
        response: { 200: LearningSchema, 404: ErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params as Static<typeof GroupParams>;
      const { learningDays } = request.body as Static<typeof LearningBody>;
      await app.db.transaction(async (tx) => {
        const before = await groupLearning(tx, id);
        if (!before || !(await setLearningDays(tx, id, learningDays))) throw new NotFoundError('group');
        await recordAudit(tx, actorOf(request), {
          action: 'baseline.learning_days',
          targetType: 'group',
          targetId: id,
          before: { learningDays: before.learningDays },
          after: { learningDays },
        });
      });
      return requireGroup(id);
    },
  );
}
