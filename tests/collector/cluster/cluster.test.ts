// Two collector apps on one PostgreSQL database: a policy changed through one reaches an agent
// connected to the other (vigil_policy), a batch ingested by one is announced to the other
// (vigil_alerts), and the listener comes back after its connection is killed.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import { buildApp } from '../../../collector/app.js';
import { channels } from '../../../collector/cluster/plugin.js';
import { openPostgres } from '../../../collector/db/db.js';
import { migrate } from '../../../collector/db/migrate.js';
import { enrollAgent, packetSocketEvent, TestAgent } from '../../helpers/agent-client.js';
import {
  ADMIN_TOKEN,
  type RunningCollector,
  startCollector,
  testCollectorConfig,
} from '../../helpers/collector.js';
import { engines, freshPostgres } from '../../helpers/db.js';
import { waitFor } from '../../helpers/processes.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe.runIf(engines.includes('postgres'))('two collectors on one PostgreSQL', () => {
  it('both start when they migrate an empty database at the same time', async () => {
    for (let round = 0; round < 3; round++) {
      const { url, drop } = await freshPostgres();
      const dbs = [openPostgres(url), openPostgres(url)];
      try {
        const applied = await Promise.all(dbs.map((db) => migrate(db)));
        expect(applied.flat().filter((name) => name === '001_foundation')).toHaveLength(1);
      } finally {
        for (const db of dbs) await db.close();
        await drop();
      }
    }
  }, 120_000);

  let first: RunningCollector;
  let second: {
    app: Awaited<ReturnType<typeof buildApp>>;
    url: string;
    wsUrl: string;
    close: () => Promise<void>;
  };
  beforeAll(async () => {
    first = await startCollector('postgres');
    const db = openPostgres(first.testDb.databaseUrl!);
    const app = await buildApp(testCollectorConfig(first.testDb.dataDir), { db, logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    second = {
      app,
      url: `http://127.0.0.1:${port}`,
      wsUrl: `ws://127.0.0.1:${port}/api/v1/agents/stream`,
      close: async () => {
        await app.close();
        await db.close();
      },
    };
  }, 120_000);
  afterAll(async () => {
    await second?.close();
    await first?.close();
  });

  it('pushes a policy changed through one collector to an agent on the other', async () => {
    const { agentId, token } = await enrollAgent(first.url);
    const agent = await TestAgent.connect(second.wsUrl, token, agentId);
    const res = await fetch(`${first.url}/api/v1/groups/default/policy`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ scanIntervalMs: 3000 }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { policy: { revision: number }; pushedTo: number };
    expect(body.pushedTo).toBe(0);
    const pushed = (await agent.waitFor(
      (m) => m.type === 'policy' && m.policy.revision === body.policy.revision,
    )) as {
      policy: { scanIntervalMs: number };
    };
    expect(pushed.policy.scanIntervalMs).toBe(3000);
    agent.close();
  });

  it('disconnects an agent revoked through one collector from the other', async () => {
    const { agentId, token } = await enrollAgent(first.url);
    const agent = await TestAgent.connect(second.wsUrl, token, agentId);
    const res = await fetch(`${first.url}/api/v1/agents/${agentId}/revoke`, {
      method: 'POST',
      headers: { authorization: admin.authorization },
    });
    expect(res.status).toBe(200);
    const closed = await agent.waitClosed();
    expect(closed.code).toBe(4004);
    expect(closed.reason).toMatch(/revoked/);
  });

  it('announces the alerts of a batch ingested by one collector to the other, once it committed', async () => {
    const { agentId } = await enrollAgent(first.url);
    const heard: string[] = [];
    second.app.cluster.on(channels.alerts, (payload) => {
      heard.push(payload);
    });
    const agent: AgentRecord = {
      id: agentId,
      groupId: 'default',
      hostname: 'ws-test-01',
      platform: 'linux',
      revoked: false,
    };
    const result = await first.app.ingest(agent, [packetSocketEvent(agentId, { exe: '/opt/cluster/sniff' })]);
    expect(result.alertsCreated).toHaveLength(1);
    const payload = await waitFor(
      'vigil_alerts notification',
      async () => heard.find((p) => p.includes(result.alertsCreated[0]!)),
      10_000,
    );
    expect(JSON.parse(payload)).toEqual({ created: result.alertsCreated, updated: [] });
    // A rolled-back transaction announces nothing.
    await first.testDb.db
      .transaction(async (tx) => {
        await first.app.cluster.notify(
          channels.alerts,
          JSON.stringify({ created: ['rolled-back'], updated: [] }),
          tx,
        );
        throw new Error('roll back');
      })
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    expect(heard.some((p) => p.includes('rolled-back'))).toBe(false);
  });

  it('listens again after its connection is killed, and re-pushes policies', async () => {
    const { agentId, token } = await enrollAgent(first.url);
    const agent = await TestAgent.connect(second.wsUrl, token, agentId);
    const policiesBefore = agent.messages.filter((m) => m.type === 'policy').length;
    const killer = new pg.Client({ connectionString: first.testDb.databaseUrl });
    await killer.connect();
    try {
      const killed = await killer.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
      );
      expect(killed.rowCount).toBe(2);
    } finally {
      await killer.end();
    }
    // The reconnect re-push reaches the agent: nothing sent while the listener was down is lost for good.
    await waitFor(
      're-push after reconnect',
      async () =>
        agent.messages.filter((m) => m.type === 'policy').length > policiesBefore ? true : undefined,
      15_000,
    );
    const res = await fetch(`${first.url}/api/v1/groups/default/policy`, {
      method: 'PUT',
      headers: admin,
      body: JSON.stringify({ scanIntervalMs: 4000 }),
    });
    const { policy } = (await res.json()) as { policy: { revision: number } };
    await agent.waitFor((m) => m.type === 'policy' && m.policy.revision === policy.revision, 10_000);
    agent.close();
  });
});
