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
        await recordMatch(tx, match, options.alertDedupWindowMs);
      }
    }
    return rows.map((r) => r.id);
  });
}

export function startPresenceMonitor(app: FastifyInstance, options: PresenceOptions): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const silent = await checkSilentAgents(app, options);
      if (silent.length) app.log.warn({ agents: silent }, 'agents went silent');
    } catch (err) {
      app.log.error({ err }, 'presence check failed');
    } finally {
      running = false;
    }
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
