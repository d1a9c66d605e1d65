// The ingest path: store batches, run the rules on the events that are new, record alerts — all
// in one transaction, so an acked batch has its alerts and a resent batch adds nothing.
// Batches that arrive while the transactions in flight are busy are committed together (group
// commit): under load one transaction carries many agents' batches, so the database sees a few
// statements per group instead of eight per batch. A group that fails is retried batch by batch,
// so one batch the database refuses does not fail the batches that happened to share its group.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { VigilEvent } from '../../shared/events.js';
import type { AgentRecord } from '../agents/repository.js';
import { type AlertMatch, type MatchGroup, recordMatches } from '../alerts/repository.js';
import { notifyAlerts } from '../cluster/alerts-channel.js';
import type { CollectorConfig } from '../config.js';
import type { Queryable } from '../db/db.js';
import { IngestQueue, type PendingBatch } from './queue.js';

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

/** Events of one group commit at most (a group always takes at least one batch). */
const GROUP_MAX_EVENTS = 5000;

/** Inserts the events of every batch and returns the ids that were not stored before. */
async function storeEvents(tx: Queryable, batches: PendingBatch[]): Promise<Set<string>> {
  // The token names the agent; an event claiming another agent id is stored under the real one.
  const records = batches.flatMap(({ agent, events }) =>
    events.map((e) => ({ id: e.id, agent_id: agent.id, time: e.time, type: e.type, data: e.data })),
  );
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

/** Lifecycle events update the agents' rows: a clean stop is not silence, and health feeds the fleet view. */
async function updatePresence(tx: Queryable, batches: PendingBatch[], fresh: Set<string>): Promise<void> {
  const byAgent = new Map<string, { stopping: boolean; health?: unknown }>();
  for (const { agent, events } of batches) {
    const state = byAgent.get(agent.id) ?? { stopping: false };
    if (events.some((e) => e.type === 'agent.stopping' && fresh.has(e.id))) state.stopping = true;
    const health = events.findLast((e) => e.type === 'agent.health');
    if (health) state.health = health.data;
    byAgent.set(agent.id, state);
  }
  // In id order, so concurrent groups lock agents' rows in the same order.
  const rows = [...byAgent]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    // An absent `health` is NULL in the recordset, and the stored health stays.
    .map(([id, state]) => ({ id, ...state }));
  await tx.query(
    `UPDATE agents a SET last_seen = now(),
            presence = CASE WHEN u.stopping THEN 'stopped' ELSE 'online' END,
            presence_changed_at = CASE WHEN a.presence = (CASE WHEN u.stopping THEN 'stopped' ELSE 'online' END)
                                       THEN a.presence_changed_at ELSE now() END,
            health = COALESCE(u.health, a.health)
       FROM jsonb_to_recordset($1::jsonb) AS u(id uuid, stopping boolean, health jsonb)
      WHERE a.id = u.id AND a.revoked_at IS NULL`,
    [JSON.stringify(rows)],
  );
}

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig }) => {
    /** Stores `batches` in one transaction; returns each batch's result, in order. */
    const storeGroup = (batches: PendingBatch[]): Promise<IngestResult[]> =>
      app.db.transaction(async (tx) => {
        const fresh = await storeEvents(tx, batches);
        const results: IngestResult[] = batches.map(() => ({
          stored: 0,
          duplicates: 0,
          alertsCreated: [],
          alertsUpdated: [],
        }));
        // Matches of one rule+agent+entity become one alert write: a sniffer seen 500 times in a
        // batch is one upsert, not 500. `batchesOf` remembers which batches fed each key.
        const byKey = new Map<string, { matches: AlertMatch[]; batchesOf: Set<number> }>();
        const unevaluated = new Set(fresh);
        for (const [index, { agent, events }] of batches.entries()) {
          for (const event of events) {
            // Only events stored now, and each once even if the batch repeats it.
            if (!unevaluated.delete(event.id)) continue;
            results[index]!.stored++;
            const matches = await app.detection.evaluateStored(tx, event, agent);
            for (const match of matches) {
              // An exception counts the match on itself instead of opening or bumping an alert.
              if (await app.alertExceptions.suppress(tx, match, event, agent)) continue;
              const key = `${match.ruleId}|${match.agentId}|${match.entity}`;
              const group = byKey.get(key) ?? { matches: [], batchesOf: new Set<number>() };
              group.matches.push(match);
              group.batchesOf.add(index);
              byKey.set(key, group);
            }
          }
          results[index]!.duplicates = events.length - results[index]!.stored;
        }
        const keyed = [...byKey.values()];
        const groups: MatchGroup[] = keyed.map(({ matches }) => ({
          match: matches.reduce((a, b) => (b.eventTime >= a.eventTime ? b : a)),
          count: matches.length,
          eventIds: matches.map((m) => m.eventId),
          firstSeen: new Date(Math.min(...matches.map((m) => m.eventTime.getTime()))),
        }));
        const written = await recordMatches(tx, groups, opts.config.alertDedupWindowMs);
        const created: string[] = [];
        const updated: string[] = [];
        for (const [i, { alertId, created: isNew }] of written.entries()) {
          (isNew ? created : updated).push(alertId);
          for (const index of keyed[i]!.batchesOf) {
            (isNew ? results[index]!.alertsCreated : results[index]!.alertsUpdated).push(alertId);
          }
        }
        await updatePresence(tx, batches, fresh);
        // Live consoles on every collector learn of these alerts once this group commits.
        await notifyAlerts(app.cluster, tx, created, updated);
        return results;
      });

    const queue = new IngestQueue({
      // PGlite is one connection: parallel transactions would only queue behind each other.
      concurrency: app.db.kind === 'pglite' ? 1 : (opts.config.ingestConcurrency ?? 4),
      maxEvents: GROUP_MAX_EVENTS,
      async commit(group) {
        try {
          const results = await storeGroup(group);
          for (const [i, batch] of group.entries()) batch.resolve(results[i]!);
        } catch (error) {
          if (group.length === 1) {
            group[0]!.reject(error);
            return;
          }
          for (const batch of group) {
            await storeGroup([batch]).then(
              ([result]) => batch.resolve(result!),
              (batchError: unknown) => batch.reject(batchError),
            );
          }
        }
      },
    });
    app.decorate('ingest', (agent: AgentRecord, events: VigilEvent[]) => queue.push(agent, events));
  },
  { name: 'ingest', dependencies: ['db', 'cluster', 'detection', 'alert-exceptions'] },
);
