// Alert review details: list and action responses carry no evidence (the audited detail does),
// exception values match like Sigma (case-insensitive, `*`, any list element) also for "agent
// silent", approving and allowlisting need the same role, the dedup window is an option, and an
// oversized body answers 413 with a stable code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSilentAgents } from '../../../collector/agents/presence.js';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import { exceptionCovers, fieldValueMatches } from '../../../collector/alerts/exception-cache.js';
import type { AlertException } from '../../../collector/alerts/exceptions.js';
import { type CollectorConfig, collectorConfigFrom, collectorOptions } from '../../../collector/config.js';
import { readOptions } from '../../../shared/options.js';
import { packetSocketEvent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, userWithRole } from '../auth/helpers.js';
import { enrolledAgent, processStart, raiseAlert } from './fixtures.js';

const AGENT_SILENT_RULE_ID = '2f6b1a52-6c1e-4b8e-9a54-1f1c7c2d9e01';

describe('exception field values', () => {
  it('match case-insensitively, with * wildcards, and any element of a list', () => {
    expect(fieldValueMatches('/usr/sbin/Wireshark', '/usr/sbin/wireshark')).toBe(true);
    expect(fieldValueMatches('C:\\Tools\\dumpcap.exe', 'c:\\tools\\*.EXE')).toBe(true);
    expect(fieldValueMatches('/usr/bin/tcpdump', '*dump')).toBe(true);
    expect(fieldValueMatches('/usr/bin/tcpdump', '*dumpx')).toBe(false);
    // Only * is a wildcard: ? and regex characters are literal.
    expect(fieldValueMatches('https://mail.example/?q=1', 'https://mail.example/?q=1')).toBe(true);
    expect(fieldValueMatches('https://mail.example/xq=1', 'https://mail.example/?q=1')).toBe(false);
    expect(fieldValueMatches('a+b', 'a+b')).toBe(true);
    expect(fieldValueMatches(['SHA1=00', 'SHA256=ABC'], 'sha256=abc')).toBe(true);
    expect(fieldValueMatches(['x', 'y'], 'z')).toBe(false);
    expect(fieldValueMatches(undefined, '*')).toBe(false);
    expect(fieldValueMatches(4242, '42*')).toBe(true);
  });

  it('all fields of the exception must match', () => {
    const exception = {
      scope: 'rule',
      groupId: null,
      agentId: null,
      expiresAt: null,
      fields: { Image: '*/TCPDUMP', User: 'root' },
    } as unknown as AlertException;
    const agent = { id: 'a', groupId: 'g' };
    const values = (fields: Record<string, unknown>) => (name: string) => fields[name];
    expect(exceptionCovers(exception, agent, values({ Image: '/usr/bin/tcpdump', User: 'ROOT' }), 0)).toBe(
      true,
    );
    expect(exceptionCovers(exception, agent, values({ Image: '/usr/bin/tcpdump', User: 'bob' }), 0)).toBe(
      false,
    );
  });
});

describe('--alert-dedup-window', () => {
  it('is read from the flag or VIGIL_ALERT_DEDUP_WINDOW_SEC, default one hour', () => {
    const config = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
      collectorConfigFrom(readOptions(collectorOptions, argv, env).values);
    expect(config([]).alertDedupWindowMs).toBe(3_600_000);
    expect(config(['--alert-dedup-window', '600']).alertDedupWindowMs).toBe(600_000);
    expect(config([], { VIGIL_ALERT_DEDUP_WINDOW_SEC: '90' }).alertDedupWindowMs).toBe(90_000);
    expect(() => config(['--alert-dedup-window', '0'])).toThrow(/alert-dedup-window/);
  });
});

describe.each(engines)('alert review on %s', (engine) => {
  let c: RunningCollector;
  let agent: AgentRecord;
  beforeAll(async () => {
    c = await startCollector(engine, {
      loginRateLimitPerMinute: 1000,
      alertDedupWindowMs: 600_000,
    } as Partial<CollectorConfig>);
    agent = await enrolledAgent(c);
  }, 180_000);
  afterAll(async () => c?.close());

  it('lists alerts and answers actions without evidence; the audited detail carries it', async () => {
    const { alertId } = await raiseAlert(c, agent, {
      exe: '/opt/evidence/sniff',
      cmdline: '/opt/evidence/sniff --secret-customer-file',
      user: 'agent07',
      inode: 301,
    });
    const analyst = await userWithRole(c.url, 'analyst');
    const list = await api(c.url, 'GET', '/api/v1/alerts?limit=500', analyst.token);
    const listed = list.json.alerts.find((a: { id: string }) => a.id === alertId);
    expect(listed).toMatchObject({ id: alertId, user: 'agent07', hostname: 'ws-test-01' });
    expect(listed).not.toHaveProperty('evidence');
    expect(JSON.stringify(list.json)).not.toContain('secret-customer-file');

    const acknowledged = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/transition`, analyst.token, {
      status: 'acknowledged',
    });
    expect(acknowledged.status).toBe(200);
    expect(acknowledged.json).not.toHaveProperty('evidence');
    const assigned = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/assign`, analyst.token, {
      userId: analyst.id,
    });
    expect(assigned.status).toBe(200);
    expect(JSON.stringify(assigned.json)).not.toContain('secret-customer-file');

    const reads = async () =>
      (
        await c.testDb.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.evidence_read' AND target_id = $1`,
          [alertId],
        )
      ).rows[0]!.n;
    expect(await reads()).toBe(0);
    const detail = await api(c.url, 'GET', `/api/v1/alerts/${alertId}`, analyst.token);
    expect(detail.json.evidence.cmdline).toContain('secret-customer-file');
    expect(detail.json.user).toBe('agent07');
    expect(await reads()).toBe(1);

    // The OpenAPI document says the same: no evidence in the list schema, evidence in the detail.
    const doc = (await (await fetch(`${c.url}/docs/json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const listSchema = JSON.stringify(doc.paths['/api/v1/alerts']!.get!.responses['200']);
    expect(listSchema).not.toContain('"evidence"');
    expect(JSON.stringify(doc.paths['/api/v1/alerts/{id}']!.get!.responses['200'])).toContain('"evidence"');
  });

  it('opens a new alert after the dedup window and bumps the count inside it', async () => {
    const t0 = new Date(Date.now() - 60 * 60_000);
    const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000).toISOString();
    const event = (minutes: number) =>
      packetSocketEvent(agent.id, { exe: '/opt/dedup/probe', name: 'probe', inode: 400 + minutes });
    const first = await c.app.ingest(agent, [{ ...event(0), time: at(0) }]);
    expect(first.alertsCreated).toHaveLength(1);
    // 9 minutes later: inside the 10-minute window.
    const inside = await c.app.ingest(agent, [{ ...event(9), time: at(9) }]);
    expect(inside.alertsUpdated).toEqual(first.alertsCreated);
    // 11 minutes after the last one: a new alert.
    const outside = await c.app.ingest(agent, [{ ...event(20), time: at(20) }]);
    expect(outside.alertsCreated).toHaveLength(1);
    expect(outside.alertsCreated[0]).not.toBe(first.alertsCreated[0]);
    const { rows } = await c.testDb.db.query<{ id: string; count: number }>(
      'SELECT id, count FROM alerts WHERE id = ANY($1::uuid[])',
      [[first.alertsCreated[0], outside.alertsCreated[0]]],
    );
    const counts = Object.fromEntries(rows.map((r) => [r.id, r.count]));
    expect(counts[first.alertsCreated[0]!]).toBe(2);
    expect(counts[outside.alertsCreated[0]!]).toBe(1);
  });

  it('suppresses "agent silent" through exceptions, counting the hit', async () => {
    const quiet = await enrolledAgent(c);
    const silence = async (agentId: string) => {
      await c.testDb.db.query(
        `UPDATE agents SET presence = 'online', last_seen = now() - interval '1 hour' WHERE id = $1`,
        [agentId],
      );
      return checkSilentAgents(c.app, {
        silentAfterMs: 1000,
        intervalMs: 1000,
        alertDedupWindowMs: 600_000,
        reconnectGraceMs: 0,
      } as Parameters<typeof checkSilentAgents>[1]);
    };
    expect(await silence(quiet.id)).toContain(quiet.id);
    const { rows: raised } = await c.testDb.db.query<{ id: string }>(
      'SELECT id FROM alerts WHERE rule_id = $1 AND agent_id = $2',
      [AGENT_SILENT_RULE_ID, quiet.id],
    );
    expect(raised).toHaveLength(1);
    const exception = await api(c.url, 'POST', `/api/v1/alerts/${raised[0]!.id}/exceptions`, undefined, {
      scope: 'group',
      fields: { Hostname: 'WS-TEST-*' },
      reason: 'lab machines are switched off at night',
    });
    expect(exception.status).toBe(201);

    const other = await enrolledAgent(c);
    expect(await silence(other.id)).toContain(other.id);
    const { rows: suppressed } = await c.testDb.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM alerts WHERE rule_id = $1 AND agent_id = $2',
      [AGENT_SILENT_RULE_ID, other.id],
    );
    expect(suppressed[0]!.n).toBe(0);
    const after = await api(c.url, 'GET', `/api/v1/exceptions/${exception.json.id}`);
    expect(after.json.hits).toBe(1);
  });

  it('lets analysts approve from the alert and manage the allowlist alike; viewers neither', async () => {
    const analyst = await userWithRole(c.url, 'analyst');
    const viewer = await userWithRole(c.url, 'viewer');
    const body = { pathGlob: '/opt/approved-by-analyst/*', reason: 'softphone' };
    expect((await api(c.url, 'POST', '/api/v1/groups/default/allowlist', viewer.token, body)).status).toBe(
      403,
    );
    const added = await api(c.url, 'POST', '/api/v1/groups/default/allowlist', analyst.token, body);
    expect(added.status).toBe(201);
    const removed = await api(
      c.url,
      'DELETE',
      `/api/v1/groups/default/allowlist/${added.json.id}`,
      analyst.token,
    );
    expect(removed.status).toBe(200);

    await api(c.url, 'PUT', '/api/v1/groups/default/baseline', undefined, { learningDays: 0 });
    const raised = await c.app.ingest(agent, [processStart(agent.id, '/opt/fresh/tool', 'e'.repeat(64))]);
    expect(raised.alertsCreated).toHaveLength(1);
    const approved = await api(
      c.url,
      'POST',
      `/api/v1/alerts/${raised.alertsCreated[0]}/approve`,
      analyst.token,
      {
        reason: 'the team tool',
      },
    );
    expect(approved.status).toBe(200);
    expect(approved.json.alert).not.toHaveProperty('evidence');
    expect(approved.json.alert.status).toBe('resolved');
  });

  it('answers an oversized body with 413 and a stable code', async () => {
    const res = await fetch(`${c.url}/api/v1/rules`, {
      method: 'POST',
      headers: { authorization: 'Bearer vgl_test_admin_token', 'content-type': 'application/json' },
      body: JSON.stringify({ yaml: 'x'.repeat(1024 * 1024 + 10) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('body_too_large');
  });
});
