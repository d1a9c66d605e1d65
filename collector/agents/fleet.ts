// Fleet administration: agent groups with their enroll secrets and policies, policy pushed to
// connected agents when it changes, and revocation of an agent's token.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import { closeCodes, Policy } from '../../shared/protocol.js';
import { validator } from '../../shared/validate.js';
import { actorOf, recordAudit } from '../audit/repository.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { channels } from '../cluster/plugin.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import {
  agentIdsInGroup,
  effectivePolicy,
  ensureGroup,
  groupPolicy,
  listGroups,
  revokeAgent,
  setGroupSecret,
  updateGroupPolicy,
} from './repository.js';

const validatePolicy = validator<Policy>(Policy);

/** What an admin may set: any part of the policy except its revision, which the collector keeps. */
const PolicyPatch = Type.Partial(Type.Omit(Policy, ['revision']));
const GroupId = Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' });
const GroupParams = Type.Object({ id: GroupId });
/** Stands for a secret in audit records: that it changed is recorded, never its value. */
const MASKED = '***';

export interface FleetOptions {
  /** The presence threshold: a policy's heartbeat must leave room for two beats inside it. */
  silentAfterMs: number;
}

export default fp(
  async (app: FastifyInstance, opts: FleetOptions) => {
    /** Sends the group's current policy to its agents connected to this collector. */
    async function pushPolicy(groupId: string): Promise<number> {
      const policy = await groupPolicy(app.db, groupId);
      let sent = 0;
      for (const agentId of await agentIdsInGroup(app.db, groupId)) {
        const session = app.agentSessions.get(agentId);
        if (!session) continue;
        session.send({ type: 'policy', policy });
        sent++;
      }
      return sent;
    }

    // Cluster: a policy change NOTIFYs vigil_policy in its transaction; every collector pushes to its
    // own connected agents of that group. The sender already pushed (to report pushedTo) and skips.
    app.cluster.on(channels.policy, async (payload) => {
      const { group, origin } = JSON.parse(payload) as { group: string; origin: string };
      if (origin !== app.cluster.instanceId) await pushPolicy(group);
    });
    // Notifications sent while the listener was reconnecting are lost: push every group again.
    app.cluster.onReconnect(() => {
      listGroups(app.db)
        .then((groups) => Promise.all(groups.map((g) => pushPolicy(g.id))))
        .catch((err) => app.log.error({ err }, 'policy re-push after reconnect failed'));
    });

    const closeRevoked = (agentId: string) =>
      app.agentSessions.get(agentId)?.close(closeCodes.revoked, 'this agent was revoked; enroll it again');
    app.cluster.on(channels.agentRevoked, (agentId) => {
      closeRevoked(agentId);
    });

    app.get(
      '/api/v1/groups',
      {
        preHandler: app.requireRole('viewer'),
        schema: { tags: ['fleet'], summary: 'Agent groups with their policies' },
      },
      async () => ({ groups: await listGroups(app.db) }),
    );

    app.post(
      '/api/v1/groups',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['fleet'],
          summary: 'Create an agent group; its enroll secret is returned once',
          body: Type.Object(
            { id: GroupId, name: Type.String({ minLength: 1, maxLength: 200 }) },
            { additionalProperties: false },
          ),
        },
      },
      async (request, reply) => {
        const { id, name } = request.body as { id: string; name: string };
        if ((await listGroups(app.db)).some((g) => g.id === id))
          throw new ConflictError(`group ${id} exists`, 'group_exists');
        const enrollSecret = newToken('enr');
        await app.db.transaction(async (tx) => {
          await ensureGroup(tx, id, name, hashToken(enrollSecret));
          // The secret is shown once to the caller and never logged.
          await recordAudit(tx, actorOf(request), {
            action: 'group.create',
            targetType: 'group',
            targetId: id,
            after: { id, name, enrollSecret: MASKED },
          });
        });
        reply.status(201);
        return { id, name, enrollSecret };
      },
    );

    app.post(
      '/api/v1/groups/:id/secret',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['fleet'],
          summary: "Replace a group's enroll secret (enrolled agents keep working)",
          params: GroupParams,
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof GroupParams>;
        const enrollSecret = newToken('enr');
        await app.db.transaction(async (tx) => {
          if (!(await setGroupSecret(tx, id, hashToken(enrollSecret)))) throw new NotFoundError('group');
          await recordAudit(tx, actorOf(request), {
            action: 'group.secret_rotate',
            targetType: 'group',
            targetId: id,
            after: { enrollSecret: MASKED },
          });
        });
        return { id, enrollSecret };
      },
    );

    app.put(
      '/api/v1/groups/:id/policy',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['fleet'],
          summary: "Set a group's policy (merged over the defaults) and push it to its connected agents",
          params: GroupParams,
          body: PolicyPatch,
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof GroupParams>;
        const patch = request.body as Partial<Policy>;
        const candidate = effectivePolicy(patch, 0);
        const check = validatePolicy(candidate);
        if (!check.ok)
          throw new BadRequestError(
            `invalid policy: ${check.errors.join('; ')}`,
            undefined,
            'policy_invalid',
          );
        if (patch.heartbeatIntervalMs !== undefined && patch.heartbeatIntervalMs * 2 > opts.silentAfterMs)
          throw new BadRequestError(
            `invalid policy: heartbeatIntervalMs ${candidate.heartbeatIntervalMs} leaves agents silent; this collector marks an agent silent after ${opts.silentAfterMs} ms, so heartbeats must come at most every ${Math.floor(opts.silentAfterMs / 2)} ms`,
            undefined,
            'policy_invalid',
          );
        const policy = await app.db.transaction(async (tx) => {
          const before = await groupPolicy(tx, id);
          const updated = await updateGroupPolicy(tx, id, patch);
          if (updated) {
            await app.cluster.notify(
              channels.policy,
              JSON.stringify({ group: id, origin: app.cluster.instanceId }),
              tx,
            );
            await recordAudit(tx, actorOf(request), {
              action: 'group.policy_change',
              targetType: 'group',
              targetId: id,
              before,
              after: updated,
            });
          }
          return updated;
        });
        if (!policy) throw new NotFoundError('group');
        const pushed = await pushPolicy(id);
        request.log.info({ group: id, revision: policy.revision, pushed }, 'policy changed');
        return { policy, pushedTo: pushed };
      },
    );

    app.post(
      '/api/v1/agents/:id/revoke',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['fleet'],
          summary: "Revoke an agent's token; a connected agent is disconnected with a clear reason",
          params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const revoked = await app.db.transaction(async (tx) => {
          const done = await revokeAgent(tx, id);
          // The agent may be connected to another collector: every collector hears this.
          if (done) {
            await app.cluster.notify(channels.agentRevoked, id, tx);
            await recordAudit(tx, actorOf(request), {
              action: 'agent.revoke',
              targetType: 'agent',
              targetId: id,
              after: { revoked: true },
            });
          }
          return done;
        });
        if (!revoked) throw new NotFoundError('agent (or already revoked)');
        closeRevoked(id);
        request.log.warn({ agentId: id }, 'agent revoked');
        return { id, revoked: true };
      },
    );
  },
  { name: 'fleet', dependencies: ['db', 'auth', 'agents', 'cluster'] },
);
