// GET /metrics for Prometheus. Counters and histograms are fed by the ingest path (app.ingest is
// wrapped here, so the ingest plugin stays unaware of metrics); gauges that live in the database
// (agent backlog, notification outbox) are read when Prometheus scrapes.
// Access: the admin role by default (scrape with an admin API token); VIGIL_METRICS_TOKEN=<secret>
// lets a dedicated scrape token in instead of any user token; VIGIL_METRICS_PUBLIC=true opens it
// to anyone who can reach the port (only behind a firewall/proxy that keeps it internal).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { isTrue } from '../../shared/options.js';
import { bearerToken } from '../auth/tokens.js';
import { UnauthorizedError } from '../errors.js';
import { readDatabaseGauges } from './queries.js';

export interface MetricsOptions {
  /** No credentials needed (default: VIGIL_METRICS_PUBLIC). */
  public?: boolean;
  /** A dedicated bearer token for the scraper (default: VIGIL_METRICS_TOKEN). */
  scrapeToken?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry;
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export default fp(
  async (app: FastifyInstance, opts: MetricsOptions = {}) => {
    const isPublic = opts.public ?? isTrue(process.env.VIGIL_METRICS_PUBLIC);
    const scrapeToken = opts.scrapeToken ?? (process.env.VIGIL_METRICS_TOKEN || undefined);
    const registry = new Registry();
    app.decorate('metrics', registry);
    const registers = [registry];

    new Gauge({
      name: 'vigil_agents_connected',
      help: 'Agent WebSocket sessions open on this collector process',
      registers,
      collect() {
        this.set(app.agentSessions.size);
      },
    });
    const eventsIngested = new Counter({
      name: 'vigil_events_ingested_total',
      help: 'Events stored (first delivery; resent duplicates are counted apart)',
      registers,
    });
    const eventsDuplicate = new Counter({
      name: 'vigil_events_duplicate_total',
      help: 'Events received again after they had been stored (agent resends)',
      registers,
    });
    const batchesFailed = new Counter({
      name: 'vigil_ingest_batches_failed_total',
      help: 'Batches whose transaction failed (the agent resends them)',
      registers,
    });
    const batchCommit = new Histogram({
      name: 'vigil_ingest_batch_commit_seconds',
      help: 'Time to store one agent batch with its detections and alerts, until commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const alertsTouched = new Counter({
      name: 'vigil_alerts_total',
      help: 'Alerts created or bumped by ingested events',
      labelNames: ['outcome'] as const,
      registers,
    });
    // Zero series from the start, so rate() has a baseline before the first alert.
    for (const outcome of ['created', 'updated'] as const) alertsTouched.inc({ outcome }, 0);
    const detectionLatency = new Histogram({
      name: 'vigil_detection_latency_seconds',
      help: 'From the event time of a matching event to the commit of its alert',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });

    const backlog = new Gauge({
      name: 'vigil_agent_backlog_events',
      help: 'Events waiting in agent spools (sum of the depth each online agent last reported)',
      registers,
    });
    const agentsByPresence = new Gauge({
      name: 'vigil_agents',
      help: 'Enrolled agents by presence (fleet-wide, from the database)',
      labelNames: ['presence'] as const,
      registers,
    });
    const outboxPending = new Gauge({
      name: 'vigil_outbox_pending',
      help: 'Notifications waiting to be delivered',
      registers,
    });
    const outboxLag = new Gauge({
      name: 'vigil_outbox_lag_seconds',
      help: 'Age of the oldest notification that is due and not delivered (0 when none)',
      registers,
    });
    const outboxDead = new Gauge({
      name: 'vigil_outbox_dead',
      help: 'Notifications given up after every retry',
      registers,
    });
    const outboxFailedAttempts = new Gauge({
      name: 'vigil_outbox_failed_attempts',
      help: 'Delivery attempts that failed (all time, from the attempts table)',
      registers,
    });
    const pool = new Gauge({
      name: 'vigil_db_pool_connections',
      help: 'PostgreSQL pool connections of this process by state (total, idle, waiting clients)',
      labelNames: ['state'] as const,
      registers,
    });

    // Database gauges are refreshed once per scrape, before the registry renders.
    async function refreshDatabaseGauges(): Promise<void> {
      const gauges = await readDatabaseGauges(app.db);
      backlog.set(gauges.backlog);
      agentsByPresence.reset();
      for (const [presence, n] of Object.entries(gauges.agentsByPresence))
        agentsByPresence.set({ presence }, n);
      if (gauges.outbox) {
        outboxPending.set(gauges.outbox.pending);
        outboxLag.set(gauges.outbox.lagSeconds);
        outboxDead.set(gauges.outbox.dead);
        outboxFailedAttempts.set(gauges.outbox.failedAttempts);
      }
      const stats = app.db.stats?.();
      if (stats) {
        pool.set({ state: 'total' }, stats.total);
        pool.set({ state: 'idle' }, stats.idle);
        pool.set({ state: 'waiting' }, stats.waiting);
      }
    }

    async function observeDetection(alertIds: string[], committedAt: number): Promise<void> {
      const { rows } = await app.db.query<{ last_seen: Date }>(
        'SELECT last_seen FROM alerts WHERE id = ANY($1::uuid[])',
        [alertIds],
      );
      for (const row of rows)
        detectionLatency.observe(Math.max(0, committedAt - new Date(row.last_seen).getTime()) / 1000);
    }

    // Wrap the ingest decorator: every caller (agent sessions, tests) goes through app.ingest.
    const ingest = app.ingest;
    app.ingest = async (agent, events) => {
      const end = batchCommit.startTimer();
      try {
        const result = await ingest(agent, events);
        end();
        eventsIngested.inc(result.stored);
        eventsDuplicate.inc(result.duplicates);
        alertsTouched.inc({ outcome: 'created' }, result.alertsCreated.length);
        alertsTouched.inc({ outcome: 'updated' }, result.alertsUpdated.length);
        const touched = [...result.alertsCreated, ...result.alertsUpdated];
        // Off the ack path: the latency read must not slow the batch down.
        if (touched.length)
          observeDetection(touched, Date.now()).catch((err) =>
            app.log.debug({ err }, 'detection latency read failed'),
          );
        return result;
      } catch (err) {
        batchesFailed.inc();
        throw err;
      }
    };

    const scrapeAuth = async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization);
      if (!token || !scrapeToken || !sameSecret(token, scrapeToken))
        throw new UnauthorizedError('scrape token required');
    };

    app.get(
      '/metrics',
      {
        // With a scrape token the route checks it itself (public to the role system); else admin.
        ...(isPublic || scrapeToken
          ? { config: { public: true }, ...(scrapeToken && !isPublic && { onRequest: scrapeAuth }) }
          : { preHandler: app.requireRole('admin') }),
        schema: { tags: ['operations'], summary: 'Prometheus metrics (text exposition format)', hide: true },
      },
      async (_request, reply) => {
        await refreshDatabaseGauges();
        reply.header('content-type', registry.contentType);
        return registry.metrics();
      },
    );
  },
  { name: 'metrics', dependencies: ['db', 'auth', 'ingest', 'agents'] },
);
