// The outbox with real collector processes (dist/collector/cli.js) on one PostgreSQL database:
// SIGKILL during a delivery loses nothing and redelivers with the same webhook-id, and two
// processes deliver each trigger exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, ENROLL_SECRET } from '../../helpers/collector.js';
import { engines, freshPostgres } from '../../helpers/db.js';
import { type Child, freePort, requireBuild, startNode, waitFor } from '../../helpers/processes.js';
import { api, eventually } from '../incidents/support.js';
import { startReceiver } from './receiver.js';

const SECRET = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;

interface Running {
  child: Child;
  url: string;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

async function startCollectorProcess(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<Running> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-outbox-proc-'));
  const child = startNode('dist/collector/cli.js', ['start'], {
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    VIGIL_DATA_DIR: dataDir,
    VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
    VIGIL_ENROLL_SECRET: ENROLL_SECRET,
    VIGIL_ALLOW_PRIVATE_TARGETS: 'true',
    VIGIL_NOTIFY_TIMEOUT_MS: '3000',
    VIGIL_LOG_LEVEL: 'warn',
    ...env,
  });
  const url = `http://127.0.0.1:${port}`;
  cleanups.push(async () => {
    await child.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });
  await waitFor(
    `collector on ${port} (${child.output().slice(-500)})`,
    async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined),
    60_000,
  );
  return { child, url };
}

async function addWebhook(baseUrl: string, url: string): Promise<void> {
  const res = await api(baseUrl, 'POST', '/api/v1/notify/channels', {
    name: 'receiver',
    type: 'webhook',
    url,
    secret: SECRET,
  });
  expect(res.status).toBe(201);
}

async function openIncidents(baseUrls: string[], count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await api(baseUrls[i % baseUrls.length]!, 'POST', '/api/v1/incidents', {
      title: `incident ${i}`,
      severity: 'high',
    });
    expect(res.status).toBe(201);
  }
}

async function outbox(databaseUrl: string): Promise<Array<{ id: string; status: string; attempts: number }>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (
      await client.query('SELECT id::text AS id, status, attempts FROM notify_outbox ORDER BY created_at')
    ).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(!engines.includes('postgres'))('outbox across collector processes on PostgreSQL', () => {
  let db: { url: string; drop: () => Promise<void> };
  beforeAll(() => requireBuild());
  afterAll(async () => db?.drop());

  it('loses nothing when the collector is killed with SIGKILL mid-delivery, and keeps the webhook-id', async () => {
    db = await freshPostgres();
    let killed = false;
    const held: ServerResponse[] = [];
    let firstArrived: () => void = () => {};
    const arrived = new Promise<void>((resolve) => {
      firstArrived = resolve;
    });
    const receiver = await startReceiver((_req, res) => {
      if (killed) return res.writeHead(200).end();
      // Before the kill the receiver answers nothing: the deliveries are in flight when it lands.
      held.push(res);
      firstArrived();
    });
    cleanups.push(receiver.close);

    const first = await startCollectorProcess(db.url);
    await addWebhook(first.url, receiver.url('/hook'));
    await openIncidents([first.url], 8);
    await arrived;
    await first.child.stop('SIGKILL');
    killed = true;
    for (const res of held) res.destroy();
    const beforeKill = receiver.received.map((r) => String(r.headers['webhook-id']));
    expect(beforeKill.length).toBeGreaterThan(0);

    await startCollectorProcess(db.url);
    const rows = await eventually(
      'every trigger delivered after the restart',
      async () => {
        const all = await outbox(db.url);
        return all.length === 8 && all.every((r) => r.status === 'delivered') ? all : undefined;
      },
      30_000,
    );
    const received = receiver.received.map((r) => String(r.headers['webhook-id']));
    // The receiver dedups by webhook-id: every trigger is there, nothing else is.
    expect(new Set(received)).toEqual(new Set(rows.map((r) => r.id)));
    // What was in flight at the kill came again, with the same id, and was counted as a second attempt.
    for (const id of new Set(beforeKill)) {
      expect(received.filter((r) => r === id).length).toBeGreaterThanOrEqual(2);
      expect(rows.find((r) => r.id === id)?.attempts).toBe(2);
    }
  }, 120_000);

  it('delivers each trigger exactly once with two collector processes on one database', async () => {
    await db?.drop();
    db = await freshPostgres();
    const receiver = await startReceiver((_req, res) => {
      setTimeout(() => res.writeHead(204).end(), 20);
    });
    cleanups.push(receiver.close);
    const a = await startCollectorProcess(db.url);
    const b = await startCollectorProcess(db.url);
    await addWebhook(a.url, receiver.url('/hook'));
    const count = 40;
    await openIncidents([a.url, b.url], count);
    const rows = await eventually(
      'every trigger delivered',
      async () => {
        const all = await outbox(db.url);
        return all.length === count && all.every((r) => r.status === 'delivered') ? all : undefined;
      },
      30_000,
    );
    // Let any duplicate that was going to happen arrive before counting.
    await new Promise((r) => setTimeout(r, 1000));
    const received = receiver.received.map((r) => String(r.headers['webhook-id']));
    expect(received).toHaveLength(count);
    expect(new Set(received)).toEqual(new Set(rows.map((r) => r.id)));
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
  }, 120_000);
});
