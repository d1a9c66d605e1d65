// Agents: enrollment over HTTP and the event stream over WebSocket. The stream hands each batch
// to `app.ingest` (store → rules → alerts) and acks it only after that committed.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { closeCodes, EnrollRequest, EnrollResponse, limits } from '../../shared/protocol.js';
import { recordAudit } from '../audit/repository.js';
import { bearerToken, hashToken, newToken } from '../auth/tokens.js';
import type { CollectorConfig } from '../config.js';
import { UnauthorizedError } from '../errors.js';
import { AgentSession } from './gateway.js';
import { startPresenceMonitor } from './presence.js';
import {
  type AgentRecord,
  ensureGroup,
  findAgentByTokenHash,
  findGroupBySecretHash,
  groupPolicy,
  insertAgent,
  recordHello,
  touchAgent,
} from './repository.js';

declare module 'fastify' {
  interface FastifyRequest {
    agent?: AgentRecord;
  }
  interface FastifyInstance {
    /** Sessions of agents connected to this process, by agent id. */
    agentSessions: Map<string, AgentSession>;
  }
}

/** The default group's enroll secret: configured, or generated once into the data directory. */
function defaultEnrollSecret(config: CollectorConfig): { secret: string; generated: boolean } {
  if (config.enrollSecret) return { secret: config.enrollSecret, generated: false };
  const file = join(config.dataDir, 'enroll-secret');
  if (existsSync(file)) return { secret: readFileSync(file, 'utf8').trim(), generated: false };
  const secret = newToken('enr');
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, generated: true };
}

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig }) => {
    const { secret, generated } = defaultEnrollSecret(opts.config);
    await ensureGroup(app.db, 'default', 'Default', hashToken(secret));
    if (generated)
      app.log.warn({ file: join(opts.config.dataDir, 'enroll-secret') }, 'generated an enroll secret');

    app.decorate('agentSessions', new Map<string, AgentSession>());

    // Pacing: batches being stored right now across all agents. Past the soft limit each ack grants
    // one batch in flight instead of four; past the hard limit agents are asked to pause, so a fleet
    // replaying full spools after an outage queues on the agents, not in this process.
    let inFlightBatches = 0;
    const ingestCredit = () => (inFlightBatches > opts.config.ingestSoftLimit ? 1 : 4);
    const shouldThrottle = () => inFlightBatches > opts.config.ingestHardLimit;
    app.decorateRequest('agent', undefined);

    app.post(
      '/api/v1/enroll',
      {
        config: { public: true },
        schema: {
          tags: ['agents'],
          summary: 'Enroll an agent with its group secret; returns the agent id and token (shown once)',
          body: EnrollRequest,
          response: { 200: EnrollResponse },
        },
      },
      async (request) => {
        const body = request.body as EnrollRequest;
        const group = await findGroupBySecretHash(app.db, hashToken(body.secret));
        if (!group) throw new UnauthorizedError('unknown enroll secret', 'enroll_secret_invalid');
        const token = newToken('agt');
        const agentId = await app.db.transaction(async (tx) => {
          const id = await insertAgent(tx, {
            groupId: group.id,
            tokenHash: hashToken(token),
            host: body.host,
            agentVersion: body.agentVersion,
          });
          // No user acts here: the actor is the enrolling host. Neither secret nor token is recorded.
          await recordAudit(
            tx,
            { userId: null, username: `agent:${body.host.hostname}`, requestId: request.id, ip: request.ip },
            {
              action: 'agent.enroll',
              targetType: 'agent',
              targetId: id,
              after: { group: group.id, hostname: body.host.hostname, agentVersion: body.agentVersion },
            },
          );
          return id;
        });
        request.log.info({ agentId, group: group.id, hostname: body.host.hostname }, 'agent enrolled');
        return { agentId, token, group: group.id };
      },
    );

    await app.register(websocket, {
      options: { maxPayload: limits.maxFrameBytes },
    });

    app.get(
      '/api/v1/agents/stream',
      {
        websocket: true,
        // Agents authenticate with their own token (checked below), not as users.
        config: { public: true },
        schema: {
          tags: ['agents'],
          summary: 'Agent event stream (WebSocket); Bearer agent token',
          hide: true,
        },
        // Runs before the upgrade, so a bad token gets a plain HTTP 401 and no socket.
        preValidation: async (request) => {
          const token = bearerToken(request.headers.authorization);
          const agent = token ? await findAgentByTokenHash(app.db, hashToken(token)) : undefined;
          if (!agent) throw new UnauthorizedError('unknown agent token', 'agent_token_invalid');
          if (agent.revoked)
            throw new UnauthorizedError('this agent was revoked; enroll it again', 'agent_revoked');
          request.agent = agent;
        },
      },
      (socket, request) => {
        const agent = request.agent!;
        const previous = app.agentSessions.get(agent.id);
        previous?.close(closeCodes.replaced, 'replaced by a newer connection');
        const session = new AgentSession(agent, socket, {
          log: request.log,
          ingest: async (a, batch) => {
            inFlightBatches++;
            try {
              await app.ingest(a, batch.events);
            } finally {
              inFlightBatches--;
            }
          },
          throttle: () => (shouldThrottle() ? 1000 + Math.floor(Math.random() * 4000) : 0),
          onHello: async (a, hello) => {
            await recordHello(app.db, a.id, hello);
            return groupPolicy(app.db, a.groupId);
          },
          onHeartbeat: (a, heartbeat) => touchAgent(app.db, a.id, heartbeat.spoolDepth),
          credit: () => ingestCredit(),
        });
        app.agentSessions.set(agent.id, session);
        socket.on('close', () => {
          if (app.agentSessions.get(agent.id) === session) app.agentSessions.delete(agent.id);
        });
      },
    );

    app.addHook('preClose', async () => {
      for (const session of app.agentSessions.values())
        session.close(closeCodes.shuttingDown, 'collector stopping');
    });

    const stopPresence = startPresenceMonitor(app, {
      silentAfterMs: opts.config.agentSilentAfterMs,
      reconnectGraceMs: opts.config.agentReconnectGraceMs,
      intervalMs: opts.config.presenceCheckIntervalMs,
      alertDedupWindowMs: opts.config.alertDedupWindowMs,
    });
    app.addHook('onClose', async () => stopPresence());
  },
  { name: 'agents', dependencies: ['db', 'ingest', 'detection'] },
);
