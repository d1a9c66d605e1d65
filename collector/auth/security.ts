// HTTP hardening: security headers (helmet) on every response, and per-IP rate limits on the
// routes a stranger can hit with guesses: login and agent enrollment.
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { CollectorConfig } from '../config.js';
import { VigilError } from '../errors.js';

/** Settings the lead may add to CollectorConfig; absent ones take the defaults. */
export interface SecuritySettings {
  /** Login attempts per IP per minute (default 10). */
  loginRateLimitPerMinute?: number;
  /** Enrollments per IP per minute (default 30). */
  enrollRateLimitPerMinute?: number;
}

export class RateLimitedError extends VigilError {
  constructor(retryAfterMs: number) {
    super('rate_limited', 429, `too many requests; retry in ${Math.ceil(retryAfterMs / 1000)} s`);
  }
}

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig & SecuritySettings }) => {
    // The console sets its own Content-Security-Policy later; swagger-ui needs inline scripts.
    await app.register(helmet, { global: true, contentSecurityPolicy: false });

    const limits: Record<string, number> = {
      '/api/v1/auth/login': opts.config.loginRateLimitPerMinute ?? 10,
      '/api/v1/enroll': opts.config.enrollRateLimitPerMinute ?? 30,
    };
    // Runs before rate-limit's own onRoute hook (added next), which reads `config.rateLimit`.
    app.addHook('onRoute', (route: RouteOptions) => {
      const max = limits[route.url];
      if (max === undefined || route.method !== 'POST') return;
      route.config = { ...route.config, rateLimit: { max, timeWindow: 60_000 } } as typeof route.config;
    });
    await app.register(rateLimit, {
      global: false,
      errorResponseBuilder: (_request, context) => new RateLimitedError(context.ttl),
    });
  },
  { name: 'security' },
);
