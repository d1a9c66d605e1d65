import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import type { CollectorConfig } from '../../../collector/config.js';
import { packetSocketEvent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, userWithRole } from '../auth/helpers.js';
import { enrolledAgent, raiseAlert } from './fixtures.js';

const count = async (c: RunningCollector, sql: string, params: unknown[] = []) =>
  (await c.testDb.db.query<{ n: number }>(sql, params)).rows[0]!.n;

describe.each(engines)('alert exceptions on %s', (engine) => {
  let c: RunningCollector;
  let agent: AgentRecord;
  let otherAgent: AgentRecord;
  let analyst: { id: string; token: string };
  beforeAll(async () => {
    c = await startCollector(engine, { loginRateLimitPerMinute: 1000 } as Partial<CollectorConfig>);
    agent = await enrolledAgent(c);
    otherAgent = await enrolledAgent(c);
    analyst = await userWithRole(c.url, 'analyst');
  }, 180_000);
  afterAll(async () => c?.close());

  it('suppresses matching events on the agent, counts the hits and still stores the events', async () => {
    const { alertId } = await raiseAlert(c, agent, {
      exe: '/usr/sbin/wireshark-helper',
      name: 'wireshark-helper',
    });
    const created = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/exceptions`, analyst.token, {
      scope: 'agent',
      fields: { Image: '/usr/sbin/wireshark-helper' },
      reason: 'network team laptop',
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      scope: 'agent',
      agentId: agent.id,
      hits: 0,
      createdBy: { id: analyst.id },
    });

    const before = await count(c, 'SELECT count::int AS n FROM alerts WHERE id = $1', [alertId]);
    const suppressed = packetSocketEvent(agent.id, {
      exe: '/usr/sbin/wireshark-helper',
      name: 'wireshark-helper',
      inode: 77,
    });
    const result = await c.app.ingest(agent, [suppressed]);
    expect(result.stored).toBe(1);
    expect(result.alertsCreated).toEqual([]);
    expect(result.alertsUpdated).toEqual([]);
    expect(await count(c, 'SELECT count::int AS n FROM alerts WHERE id = $1', [alertId])).toBe(before);
    expect(await count(c, 'SELECT count(*)::int AS n FROM events WHERE id = $1', [suppressed.id])).toBe(1);

    const after = await api(c.url, 'GET', `/api/v1/exceptions/${created.json.id}`, analyst.token);
    expect(after.json.hits).toBe(1);
    expect(after.json.lastHit).toBe(suppressed.time);

    // Another image on the same agent, and the same image on another agent, still alert.
    const otherImage = await c.app.ingest(agent, [
      packetSocketEvent(agent.id, { exe: '/usr/bin/tcpdump', inode: 78 }),
    ]);
    expect([...otherImage.alertsCreated, ...otherImage.alertsUpdated]).toHaveLength(1);
    const otherHost = await c.app.ingest(otherAgent, [
      packetSocketEvent(otherAgent.id, {
        exe: '/usr/sbin/wireshark-helper',
        name: 'wireshark-helper',
        inode: 79,
      }),
    ]);
    expect(otherHost.alertsCreated).toHaveLength(1);
    expect(await count(c, `SELECT count(*)::int AS n FROM audit_log WHERE action = 'exception.create'`)).toBe(
      1,
    );
  });

  it('group scope covers every agent of the group; revoking brings alerts back', async () => {
    const { alertId } = await raiseAlert(c, agent, { exe: '/opt/monitor/capd', name: 'capd' });
    const created = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/exceptions`, analyst.token, {
      scope: 'group',
      reason: 'monitoring daemon',
      fields: { Image: '/opt/monitor/capd' },
    });
    expect(created.json.groupId).toBe('default');
    const quiet = await c.app.ingest(otherAgent, [
      packetSocketEvent(otherAgent.id, { exe: '/opt/monitor/capd', inode: 80 }),
    ]);
    expect(quiet.alertsCreated).toEqual([]);
    const revoked = await api(c.url, 'DELETE', `/api/v1/exceptions/${created.json.id}`, analyst.token);
    expect(revoked.status).toBe(200);
    expect(revoked.json.revokedAt).not.toBeNull();
    const loud = await c.app.ingest(otherAgent, [
      packetSocketEvent(otherAgent.id, { exe: '/opt/monitor/capd', inode: 81 }),
    ]);
    expect(loud.alertsCreated).toHaveLength(1);
    const again = await api(c.url, 'DELETE', `/api/v1/exceptions/${created.json.id}`, analyst.token);
    expect(again.status).toBe(404);
  });

  it('an expired exception no longer suppresses; a past expiry is refused', async () => {
    const { alertId } = await raiseAlert(c, agent, { exe: '/opt/x/short', inode: 90 });
    const past = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/exceptions`, analyst.token, {
      scope: 'rule',
      reason: 'x',
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect(past.status).toBe(400);
    expect(past.json.error.code).toBe('expiry_in_past');
    const soon = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/exceptions`, analyst.token, {
      scope: 'rule',
      reason: 'maintenance window',
      fields: { Image: '/opt/x/short' },
      expiresAt: new Date(Date.now() + 1500).toISOString(),
    });
    expect(soon.status).toBe(201);
    const during = await c.app.ingest(agent, [
      packetSocketEvent(agent.id, { exe: '/opt/x/short', inode: 91 }),
    ]);
    expect([...during.alertsCreated, ...during.alertsUpdated]).toEqual([]);
    await new Promise((r) => setTimeout(r, 1600));
    const afterwards = await c.app.ingest(agent, [
      packetSocketEvent(agent.id, { exe: '/opt/x/short', inode: 92 }),
    ]);
    expect([...afterwards.alertsCreated, ...afterwards.alertsUpdated]).toHaveLength(1);
  });

  it('sees exceptions another collector process created (version counter)', async () => {
    const { alertId } = await raiseAlert(c, agent, { exe: '/opt/y/remote', inode: 95 });
    // Written straight to the database, as a second collector would.
    const admin = (await c.testDb.db.query<{ id: string }>(`SELECT id FROM users WHERE username = 'admin'`))
      .rows[0]!.id;
    await c.testDb.db.query(
      `INSERT INTO alert_exceptions (rule_id, scope, fields, reason, created_by)
       SELECT rule_id, 'rule', '{"Image":"/opt/y/remote"}', 'elsewhere', $2 FROM alerts WHERE id = $1`,
      [alertId, admin],
    );
    await c.testDb.db.query('UPDATE alert_exceptions_version SET version = version + 1');
    const quiet = await c.app.ingest(agent, [
      packetSocketEvent(agent.id, { exe: '/opt/y/remote', inode: 96 }),
    ]);
    expect([...quiet.alertsCreated, ...quiet.alertsUpdated]).toEqual([]);
  });
});
