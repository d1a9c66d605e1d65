// The collector as a Fastify app. Plugins are registered in the direction data flows:
// db → auth → detection → ingest → agents (gateway) → alerts API.
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fleetPlugin from './agents/fleet.js';
import agentsPlugin from './agents/plugin.js';
import alertExceptionsPlugin from './alerts/exceptions-plugin.js';
import alertsPlugin from './alerts/plugin.js';
import auditPlugin from './audit/plugin.js';
import authPlugin from './auth/plugin.js';
import securityPlugin from './auth/security.js';
import type { CollectorConfig } from './config.js';
import type { Db } from './db/db.js';
import dbPlugin from './db/plugin.js';
import detectionPlugin from './detection/plugin.js';
import rulesApiPlugin from './detection/rules-api.js';
import { VigilError } from './errors.js';
import incidentsPlugin from './incidents/plugin.js';
import ingestPlugin from './ingest/plugin.js';
import notifyPlugin from './notify/plugin.js';
import usersPlugin from './users/plugin.js';

export interface BuildOptions {
  /** Use this database instead of opening one from the config (tests). */
  db?: Db;
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(
  config: CollectorConfig,
  options: BuildOptions = {},
): Promise<FastifyInstance> {
  const https = config.tls
    ? { key: readFileSync(config.tls.keyFile), cert: readFileSync(config.tls.certFile) }
    : undefined;
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    bodyLimit: 1024 * 1024,
    // The first start of the embedded database runs initdb and every migration: on a slow or busy
    // machine that takes longer than Fastify's 10 s plugin default.
    pluginTimeout: 300_000,
    ...(https && { https }),
    // A hop count as the function Fastify makes of one at run time (its types take no number).
    ...(config.trustProxy !== undefined && {
      trustProxy:
        typeof config.trustProxy === 'number'
          ? (() => {
              const hops = config.trustProxy;
              return (_address: string, hop: number) => hop < hops;
            })()
          : config.trustProxy,
    }),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof VigilError) {
      if (error.statusCode >= 500) request.log.error({ err: error }, error.message);
      return reply.status(error.statusCode).send({ error: { code: error.code, message: error.message } });
    }
    const fastifyError = error as {
      validation?: unknown;
      statusCode?: number;
      code?: string;
      message: string;
    };
    if (fastifyError.validation) {
      return reply.status(400).send({ error: { code: 'validation_failed', message: fastifyError.message } });
    }
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send({
        error: {
          code: 'body_too_large',
          message: `the request body exceeds ${app.initialConfig.bodyLimit} bytes`,
        },
      });
    }
    const status = fastifyError.statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.status(status).send({
      error: {
        code: (fastifyError.code ?? 'internal').toLowerCase(),
        message: status >= 500 ? 'internal error' : fastifyError.message,
      },
    });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Vigil collector API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(dbPlugin, { config, db: options.db });
  await app.register((await import('./cluster/plugin.js')).default); // LISTEN/NOTIFY fan-out across collectors
  await app.register((await import('./lifecycle/plugin.js')).default, {
    retentionDays: config.eventRetentionDays,
  }); // event partitions and retention
  await app.register(securityPlugin, { config });
  await app.register(authPlugin, { config });
  await app.register(detectionPlugin, { config });
  await app.register(rulesApiPlugin);
  await app.register(alertExceptionsPlugin);
  await app.register(ingestPlugin, { config });
  await app.register(agentsPlugin, { config });
  await app.register(fleetPlugin, { silentAfterMs: config.agentSilentAfterMs });
  await app.register(alertsPlugin);
  await app.register(incidentsPlugin, { config });
  await app.register(notifyPlugin, { config });
  await app.register(usersPlugin);
  await app.register(auditPlugin);
  await app.register((await import('./metrics/plugin.js')).default, {
    ...(config.metricsPublic && { public: true }),
    ...(config.metricsToken && { scrapeToken: config.metricsToken }),
  }); // GET /metrics (Prometheus)
  await app.register((await import('./console/plugin.js')).default, { config });

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => {
    await app.db.query('SELECT 1');
    return { status: 'ok' };
  });

  return app;
}
