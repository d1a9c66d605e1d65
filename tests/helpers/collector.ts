// Starts a real collector app (Fastify listening on a loopback port) on a test database.
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../collector/app.js';
import type { CollectorConfig } from '../../collector/config.js';
import { type Engine, openTestDb, type TestDb } from './db.js';

export const ENROLL_SECRET = 'test-enroll-secret';
export const ADMIN_TOKEN = 'vgl_test_admin_token';

export interface RunningCollector {
  app: FastifyInstance;
  url: string;
  wsUrl: string;
  testDb: TestDb;
  close: () => Promise<void>;
}

/** The configuration test collectors run with, on `dataDir`. */
export function testCollectorConfig(
  dataDir: string,
  overrides: Partial<CollectorConfig> = {},
): CollectorConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    dataDir,
    enrollSecret: ENROLL_SECRET,
    adminToken: ADMIN_TOKEN,
    logLevel: 'silent',
    alertDedupWindowMs: 3_600_000,
    agentSilentAfterMs: 45_000,
    agentReconnectGraceMs: 0,
    presenceCheckIntervalMs: 5000,
    ingestSoftLimit: 8,
    ingestHardLimit: 32,
    ...overrides,
  };
}

export async function startCollector(
  engine: Engine,
  overrides: Partial<CollectorConfig> = {},
): Promise<RunningCollector> {
  const testDb = await openTestDb(engine);
  const config = testCollectorConfig(testDb.dataDir, overrides);
  const app = await buildApp(config, { db: testDb.db, logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/api/v1/agents/stream`,
    testDb,
    close: async () => {
      await app.close();
      await testDb.close();
    },
  };
}

/** Calls the collector's API as the bootstrap admin; throws on an error status, returns the JSON body. */
export async function adminApi(c: RunningCollector, method: string, path: string, body?: unknown) {
  const res = await fetch(`${c.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
