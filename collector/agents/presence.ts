// Presence: an agent that stops sending anything for longer than `silentAfterMs` is marked
// silent and raises the built-in "agent silent" Sigma rule — unless it said `agent.stopping`
// first (a clean service stop). The UPDATE … RETURNING claims each agent once, so several
// collectors running this loop raise one alert between them.
import type { FastifyInstance } from 'fastify';
import { v7 as uuidv7 } from 'uuid';
import { recordMatch } from '../alerts/repository.js';
import type { AgentRecord } from './repository.js';

export interface PresenceOptions {
  silentAfterMs: number;
  /** Silence counts only once this collector has seen the database for this long without a break. */
  reconnectGraceMs: number;
  intervalMs: number;
  alertDedupWindowMs: number;
}

export async function checkSilentAgents(app: FastifyInstance, options: PresenceOptions): Promise<string[]> {
  return app.db.transaction(async (tx) => {
    const { rows } = await tx.query<{
      id: string;
      group_id: string;
      hostname: string;
      platform: string;
      last_seen: Date;
    }>(
      `UPDATE agents SET presence = 'silent', presence_changed_at = now()
        WHERE presence = 'online' AND revoked_at IS NULL
          AND last_seen < now() - make_interval(secs => $1)
        RETURNING id, group_id, hostname, platform, last_seen`,
      [options.silentAfterMs / 1000],
    );
    for (const row of rows) {
      const agent: AgentRecord = {
        id: row.id,
        groupId: row.group_id,
        hostname: row.hostname,
        platform: row.platform,
        revoked: false,
      };
      const event = {
        id: uuidv7(),
        time: new Date(),
        evidence: {
          eventType: 'agent.silent',
          hostname: row.hostname,
          lastSeen: new Date(row.last_seen).toISOString(),
        },
      };
      // Kept as an event like any other, so the alert links to evidence.
      await tx.query(
        `INSERT INTO events (id, agent_id, time, type, data) VALUES ($1, $2, $3, 'agent.silent', $4)`,
        [event.id, row.id, event.time, JSON.stringify(event.evidence)],
      );
      const sigma = {
        logsource: { product: 'vigil', category: 'agent_presence' },
        fields: { State: 'silent', Hostname: row.hostname, LastSeen: event.evidence.lastSeen },
        entity: 'presence',
      };
      for (const match of app.detection.evaluateSigma(sigma, agent, event)) {
        // Exceptions apply as on the ingest path: a suppressed match is counted, not alerted.
        if (await app.alertExceptions.suppressSigma(tx, match, sigma.fields, agent)) continue;
        await recordMatch(tx, match, options.alertDedupWindowMs);
      }
    }
    return rows.map((r) => r.id);
  });
}

export function startPresenceMonitor(app: FastifyInstance, options: PresenceOptions): () => void {
  let running = false;
  // After a collector restart or a database outage every agent's last_seen is stale, and the
  // agents are still backing off: their silence is ours, not theirs, until they had time to return.
  let watchingSince = Date.now();
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      if (Date.now() - watchingSince < options.reconnectGraceMs) {
        await app.db.query('SELECT 1');
        return;
      }
      const silent = await checkSilentAgents(app, options);
      if (silent.length) app.log.warn({ agents: silent }, 'agents went silent');
    } catch (err) {
      watchingSince = Date.now();
      app.log.error({ err }, 'presence check failed');
    } finally {
      running = false;
    }
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
