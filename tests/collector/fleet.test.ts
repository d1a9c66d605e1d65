import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeCodes, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { enrollAgent, TestAgent, testHost } from '../helpers/agent-client.js';
import { ADMIN_TOKEN, type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function api(c: RunningCollector, method: string, path: string, body?: unknown) {
  const res = await fetch(`${c.url}${path}`, {
    method,
    // No content-type without a body: Fastify rightly refuses an empty JSON body.
    headers: body ? admin : { authorization: admin.authorization },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.each(engines)('fleet on %s', (engine) => {
  let collector: RunningCollector;
  beforeAll(async () => {
    collector = await startCollector(engine, { agentSilentAfterMs: 1500, presenceCheckIntervalMs: 250 });
  });
  afterAll(async () => collector?.close());

  it('enrolls into a group with that group’s secret and pushes its policy on change', async () => {
    const created = await api(collector, 'POST', '/api/v1/groups', { id: 'floor-1', name: 'Floor 1' });
    expect(created.status).toBe(201);
    const secret = created.body.enrollSecret as string;
    const { agentId, token, group } = (await enrollAgent(collector.url, secret)) as {
      agentId: string;
      token: string;
      group: string;
    };
    expect(group).toBe('floor-1');
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId);
    const first = (await agent.waitFor((m) => m.type === 'policy')) as { policy: { revision: number } };

    const changed = await api(collector, 'PUT', '/api/v1/groups/floor-1/policy', {
      scanIntervalMs: 2000,
      web: { categories: ['webmail'], allowedDomains: ['corp.example'] },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.pushedTo).toBe(1);
    const pushed = (await agent.waitFor(
      (m) => m.type === 'policy' && m.policy.revision > first.policy.revision,
    )) as {
      policy: { scanIntervalMs: number; web: { allowedDomains: string[] }; sensors: { process: boolean } };
    };
    expect(pushed.policy.scanIntervalMs).toBe(2000);
    expect(pushed.policy.web.allowedDomains).toEqual(['corp.example']);
    expect(pushed.policy.sensors.process).toBe(true);
    agent.close();
  });

  it('pushes the new group’s policy to an agent re-enrolled from a group at the same revision', async () => {
    const groups = ['floor-a', 'floor-b'];
    const secrets: string[] = [];
    for (const id of groups) {
      const created = await api(collector, 'POST', '/api/v1/groups', { id, name: id });
      secrets.push(created.body.enrollSecret as string);
    }
    // Each group's policy changed the same number of times.
    await api(collector, 'PUT', '/api/v1/groups/floor-a/policy', { scanIntervalMs: 3000 });
    await api(collector, 'PUT', '/api/v1/groups/floor-b/policy', { scanIntervalMs: 7000 });
    const first = await enrollAgent(collector.url, secrets[0]);
    const inA = await TestAgent.connect(collector.wsUrl, first.token, first.agentId);
    const heldA = (await inA.waitFor((m) => m.type === 'policy')) as {
      policy: { revision: number; scanIntervalMs: number };
    };
    expect(heldA.policy.scanIntervalMs).toBe(3000);
    inA.close();

    const second = await enrollAgent(collector.url, secrets[1]);
    const inB = await TestAgent.connect(collector.wsUrl, second.token, second.agentId, false);
    inB.send({
      type: 'hello',
      agentId: second.agentId,
      agentVersion: 'test',
      protocolVersion: PROTOCOL_VERSION,
      host: testHost,
      policyRevision: heldA.policy.revision,
    });
    const pushed = (await inB.waitFor((m) => m.type === 'policy')) as {
      policy: { revision: number; scanIntervalMs: number };
    };
    expect(pushed.policy.scanIntervalMs).toBe(7000);
    expect(pushed.policy.revision).not.toBe(heldA.policy.revision);
    inB.close();
  });

  it('refuses an invalid policy and changes nothing', async () => {
    const before = await api(collector, 'GET', '/api/v1/groups');
    const bad = await api(collector, 'PUT', '/api/v1/groups/default/policy', { scanIntervalMs: 5 });
    expect(bad.status).toBe(400);
    // Heartbeats slower than half the silent threshold would raise false "agent silent" alerts.
    const slow = await api(collector, 'PUT', '/api/v1/groups/default/policy', { heartbeatIntervalMs: 1000 });
    expect(slow.status).toBe(400);
    expect(slow.body.error).toMatchObject({
      code: 'policy_invalid',
      message: expect.stringMatching(/heartbeat/),
    });
    const after = await api(collector, 'GET', '/api/v1/groups');
    expect(after.body).toEqual(before.body);
  });

  it('disconnects a revoked agent with a clear reason and refuses its token afterwards', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId);
    expect((await api(collector, 'POST', `/api/v1/agents/${agentId}/revoke`)).status).toBe(200);
    const closed = await agent.waitClosed();
    expect(closed.code).toBe(closeCodes.revoked);
    expect(closed.reason).toMatch(/revoked/);
    await expect(TestAgent.connect(collector.wsUrl, token, agentId)).rejects.toThrow(/401/);
  });

  it('raises an agent-silent alert when heartbeats stop, but not after a clean stop', async () => {
    const killed = await enrollAgent(collector.url);
    const stopped = await enrollAgent(collector.url);
    const a = await TestAgent.connect(collector.wsUrl, killed.token, killed.agentId);
    const b = await TestAgent.connect(collector.wsUrl, stopped.token, stopped.agentId);
    b.send({
      type: 'events',
      seq: 1,
      events: [
        {
          id: uuidv7(),
          agentId: stopped.agentId,
          time: new Date().toISOString(),
          type: 'agent.stopping',
          data: { reason: 'service stop' },
        },
      ],
    });
    await b.waitFor((m) => m.type === 'ack');
    a.socket.terminate();
    b.close();
    const started = Date.now();
    let alerts: { agentId: string; ruleTitle: string }[] = [];
    while (Date.now() - started < 8000) {
      alerts = (
        (await api(collector, 'GET', '/api/v1/alerts?limit=200')).body.alerts as typeof alerts
      ).filter((x) => x.ruleTitle === 'Vigil Agent Went Silent');
      if (alerts.some((x) => x.agentId === killed.agentId)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(alerts.map((x) => x.agentId)).toContain(killed.agentId);
    expect(alerts.map((x) => x.agentId)).not.toContain(stopped.agentId);
    const presence = await collector.testDb.db.query<{ id: string; presence: string }>(
      'SELECT id, presence FROM agents WHERE id = ANY($1)',
      [[killed.agentId, stopped.agentId]],
    );
    expect(Object.fromEntries(presence.rows.map((r) => [r.id, r.presence]))).toEqual({
      [killed.agentId]: 'silent',
      [stopped.agentId]: 'stopped',
    });
  });

  it('lets only admins change groups', async () => {
    const res = await fetch(`${collector.url}/api/v1/groups`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'x', name: 'x' }),
    });
    expect(res.status).toBe(401);
  });
});

describe.each(engines)('presence after a collector restart on %s', (engine) => {
  let collector: RunningCollector;
  beforeAll(async () => {
    collector = await startCollector(engine, {
      agentSilentAfterMs: 500,
      presenceCheckIntervalMs: 100,
      agentReconnectGraceMs: 2500,
    });
  });
  afterAll(async () => collector?.close());

  const silentAlertsFor = async (agentId: string) =>
    (
      (await api(collector, 'GET', '/api/v1/alerts?limit=200')).body.alerts as {
        agentId: string;
        ruleTitle: string;
      }[]
    ).filter((x) => x.agentId === agentId && x.ruleTitle === 'Vigil Agent Went Silent');

  it('gives agents that were online before the restart time to reconnect, then flags the ones that do not', async () => {
    const returning = await enrollAgent(collector.url);
    const gone = await enrollAgent(collector.url);
    // What the database holds after the collector was down for an hour: both online, both stale.
    await collector.testDb.db.query(
      `UPDATE agents SET presence = 'online', last_seen = now() - interval '1 hour' WHERE id = ANY($1)`,
      [[returning.agentId, gone.agentId]],
    );
    await new Promise((r) => setTimeout(r, 1000)); // the returning agent is still backing off
    expect(await silentAlertsFor(gone.agentId)).toEqual([]);
    const agent = await TestAgent.connect(collector.wsUrl, returning.token, returning.agentId);
    const started = Date.now();
    while (Date.now() - started < 6000 && (await silentAlertsFor(gone.agentId)).length === 0) {
      agent.send({ type: 'heartbeat', time: new Date().toISOString(), spoolDepth: 0 });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await silentAlertsFor(gone.agentId)).toHaveLength(1);
    expect(await silentAlertsFor(returning.agentId)).toEqual([]);
    agent.close();
  });
});
