// Data lifecycle jobs: keep a week of event partitions ready and drop event partitions past the
// retention age (VIGIL_EVENT_RETENTION_DAYS, default 30). Alerts, their evidence links, incidents
// and the audit log are kept: an alert whose events were dropped still shows, without them.
// Runs at start and then every `intervalMs` (default hourly) in every collector; the jobs' advisory
// locks make concurrent collectors take turns.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ConfigError } from '../errors.js';
import { dropExpiredEventPartitions, ensureEventPartitions } from './partitions.js';

export interface LifecycleOptions {
  retentionDays?: number;
  daysAhead?: number;
  intervalMs?: number;
}

export const DEFAULT_RETENTION_DAYS = 30;

/** Reads VIGIL_EVENT_RETENTION_DAYS; a bad value stops the start with a clear error. */
export function retentionDaysFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.VIGIL_EVENT_RETENTION_DAYS;
  if (text === undefined || text === '') return DEFAULT_RETENTION_DAYS;
  const days = Number(text);
  if (!Number.isInteger(days) || days < 1 || days > 36_500)
    throw new ConfigError(`VIGIL_EVENT_RETENTION_DAYS must be a whole number of days (1…36500), got ${text}`);
  return days;
}

export default fp(
  async (app: FastifyInstance, opts: LifecycleOptions = {}) => {
    const retentionDays = opts.retentionDays ?? retentionDaysFromEnv();
    const daysAhead = opts.daysAhead ?? 7;
    const intervalMs = opts.intervalMs ?? 60 * 60 * 1000;

    async function runJobs(): Promise<void> {
      const ahead = await ensureEventPartitions(app.db, { daysAhead });
      if (ahead.result.length) app.log.info({ created: ahead.result }, 'event partitions created');
      const expired = await dropExpiredEventPartitions(app.db, { retentionDays });
      if (expired.result.length)
        app.log.info({ dropped: expired.result, retentionDays }, 'expired event partitions dropped');
    }

    let running: Promise<void> | undefined;
    const tick = () => {
      if (running) return;
      running = runJobs()
        .catch((err) => app.log.error({ err }, 'event lifecycle job failed'))
        .finally(() => {
          running = undefined;
        });
    };
    app.addHook('onReady', async () => tick());
    const timer = setInterval(tick, intervalMs);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await running;
    });
  },
  { name: 'lifecycle', dependencies: ['db'] },
);
