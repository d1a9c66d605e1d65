// The ingest path: store a batch, run the rules on the events that are new, record alerts — all
// in one transaction, so an acked batch has its alerts and a resent batch adds nothing.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { VigilEvent } from '../../shared/events.js';
import type { AgentRecord } from '../agents/repository.js';
import { type AlertMatch, recordMatch } from '../alerts/repository.js';
import { notifyAlerts } from '../cluster/alerts-channel.js';
import type { CollectorConfig } from '../config.js';
import type { Queryable } from '../db/db.js';
import { checkUnexpectedProcess } from '../detection/baseline.js';

export interface IngestResult {
  stored: number;
  duplicates: number;
  alertsCreated: string[];
  alertsUpdated: string[];
}

declare module 'fastify' {
  interface FastifyInstance {
    ingest(agent: AgentRecord, events: VigilEvent[]): Promise<IngestResult>;
  }
}

/** Inserts the batch and returns the ids that were not stored before. */
async function storeEvents(tx: Queryable, agentId: string, events: VigilEvent[]): Promise<Set<string>> {
  const records = events.map((e) => ({
    id: e.id,
    agent_id: agentId,
    time: e.time,
    type: e.type,
    data: e.data,
  }));
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO events (id, agent_id, time, type, data)
     SELECT id, agent_id, time, type, data
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, agent_id uuid, time timestamptz, type text, data jsonb)
     -- events is partitioned by time (migration 005): a resent event has the same id and time.
     ON CONFLICT (id, time) DO NOTHING
     RETURNING id`,
    [JSON.stringify(records)],
  );
  return new Set(rows.map((r) => r.id));
}

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig }) => {
    app.decorate('ingest', async (agent: AgentRecord, events: VigilEvent[]): Promise<IngestResult> => {
      // The token names the agent; an event claiming another agent id is stored under the real one.
      const result = await app.db.transaction(async (tx) => {
        const fresh = await storeEvents(tx, agent.id, events);
        const outcome: IngestResult = {
          stored: fresh.size,
          duplicates: events.length - fresh.size,
          alertsCreated: [],
          alertsUpdated: [],
        };
        // Matches of one rule+entity within the batch become one alert write: a sniffer seen 500
        // times in a batch is one upsert, not 500.
        const byKey = new Map<string, AlertMatch[]>();
        const unevaluated = new Set(fresh);
        for (const event of events) {
          // Only events stored now, and each once even if the batch repeats it.
          if (!unevaluated.delete(event.id)) continue;
          const matches = [
            ...app.detection.evaluate(event, agent),
            ...(await checkUnexpectedProcess(tx, agent, event)),
          ];
          for (const match of matches) {
            // An exception counts the match on itself instead of opening or bumping an alert.
            if (await app.alertExceptions.suppress(tx, match, event, agent)) continue;
            const key = `${match.ruleId}|${match.entity}`;
            const group = byKey.get(key);
            if (group) group.push(match);
            else byKey.set(key, [match]);
          }
        }
        for (const group of byKey.values()) {
          const latest = group.reduce((a, b) => (b.eventTime >= a.eventTime ? b : a));
          const firstSeen = new Date(Math.min(...group.map((m) => m.eventTime.getTime())));
          const { alertId, created } = await recordMatch(tx, latest, opts.config.alertDedupWindowMs, {
            count: group.length,
            eventIds: group.map((m) => m.eventId),
            firstSeen,
          });
          (created ? outcome.alertsCreated : outcome.alertsUpdated).push(alertId);
        }
        // Lifecycle events update the agent's row: a clean stop is not silence, and health feeds the fleet view.
        const stopping = events.some((e) => e.type === 'agent.stopping' && fresh.has(e.id));
        const health = events.findLast((e) => e.type === 'agent.health');
        await tx.query(
          `UPDATE agents SET last_seen = now(),
                  presence = CASE WHEN $2 THEN 'stopped' ELSE 'online' END,
                  presence_changed_at = CASE WHEN presence = (CASE WHEN $2 THEN 'stopped' ELSE 'online' END) THEN presence_changed_at ELSE now() END,
                  health = COALESCE($3, health)
            WHERE id = $1 AND revoked_at IS NULL`,
          [agent.id, stopping, health ? JSON.stringify(health.data) : null],
        );
        // Live consoles on every collector learn of these alerts once this batch commits.
        await notifyAlerts(app.cluster, tx, outcome.alertsCreated, outcome.alertsUpdated);
        return outcome;
      });
      return result;
    });
  },
  { name: 'ingest', dependencies: ['db', 'cluster', 'detection', 'alert-exceptions'] },
);
