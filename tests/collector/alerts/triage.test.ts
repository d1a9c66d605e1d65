import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import type { CollectorConfig } from '../../../collector/config.js';
import { ADMIN_TOKEN, type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, userWithRole } from '../auth/helpers.js';
import { enrolledAgent, raiseAlert } from './fixtures.js';

const auditCount = async (c: RunningCollector, action: string, targetId: string) =>
  (
    await c.testDb.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM audit_log WHERE action = $1 AND target_id = $2',
      [action, targetId],
    )
  ).rows[0]!.n;

describe.each(engines)('alert triage on %s', (engine) => {
  let c: RunningCollector;
  let agent: AgentRecord;
  let analyst: { id: string; token: string; username: string };
  let viewer: { id: string; token: string };
  beforeAll(async () => {
    c = await startCollector(engine, { loginRateLimitPerMinute: 1000 } as Partial<CollectorConfig>);
    agent = await enrolledAgent(c);
    analyst = await userWithRole(c.url, 'analyst');
    viewer = await userWithRole(c.url, 'viewer');
  }, 180_000);
  afterAll(async () => c?.close());

  it('returns the evidence events themselves and audits the read', async () => {
    const { alertId, event } = await raiseAlert(c, agent, { inode: 1001 });
    const res = await api(c.url, 'GET', `/api/v1/alerts/${alertId}`, viewer.token);
    expect(res.status).toBe(200);
    expect(res.json.events).toHaveLength(1);
    expect(res.json.events[0]).toMatchObject({
      id: event.id,
      type: 'capture.packet_socket',
      data: { inode: 1001 },
    });
    expect(res.json.eventCount).toBe(1);
    const { rows } = await c.testDb.db.query<{ actor_id: string; request_id: string; ip: string }>(
      `SELECT actor_id, request_id, ip FROM audit_log WHERE action = 'alert.evidence_read' AND target_id = $1`,
      [alertId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.actor_id).toBe(viewer.id);
    expect(rows[0]!.ip).toBe('127.0.0.1');
    expect(rows[0]!.request_id).toBeTruthy();
  });

  it('moves open → acknowledged → resolved, needs a reason to close and refuses illegal moves', async () => {
    const { alertId } = await raiseAlert(c, agent, { inode: 1002, exe: '/usr/bin/tshark', name: 'tshark' });
    const path = `/api/v1/alerts/${alertId}/transition`;
    expect((await api(c.url, 'POST', path, viewer.token, { status: 'acknowledged' })).status).toBe(403);
    const ack = await api(c.url, 'POST', path, analyst.token, { status: 'acknowledged' });
    expect(ack.status).toBe(200);
    expect(ack.json.status).toBe('acknowledged');
    const again = await api(c.url, 'POST', path, analyst.token, { status: 'acknowledged' });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('illegal_transition');
    const noReason = await api(c.url, 'POST', path, analyst.token, { status: 'resolved', reason: '  ' });
    expect(noReason.status).toBe(400);
    expect(noReason.json.error.code).toBe('reason_required');
    const resolved = await api(c.url, 'POST', path, analyst.token, {
      status: 'resolved',
      reason: 'admin ran a sanctioned capture',
    });
    expect(resolved.status).toBe(200);
    expect(resolved.json).toMatchObject({
      status: 'resolved',
      statusReason: 'admin ran a sanctioned capture',
    });
    const reopen = await api(c.url, 'POST', path, analyst.token, { status: 'open' });
    expect(reopen.json.error.code).toBe('illegal_transition');
    expect(await auditCount(c, 'alert.transition', alertId)).toBe(2);
    // A closed alert no longer deduplicates: the next match opens a new one.
    const next = await raiseAlert(c, agent, { inode: 1002, exe: '/usr/bin/tshark', name: 'tshark' });
    expect(next.alertId).not.toBe(alertId);
  });

  it('assigns, unassigns, refuses unknown users and keeps comments with author and time', async () => {
    const { alertId } = await raiseAlert(c, agent, { inode: 1003, exe: '/usr/bin/dumpcap', name: 'dumpcap' });
    const assigned = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/assign`, analyst.token, {
      userId: analyst.id,
    });
    expect(assigned.json.assignee).toEqual({ id: analyst.id, username: analyst.username });
    const unknown = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/assign`, analyst.token, {
      userId: '00000000-0000-4000-8000-000000000001',
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.code).toBe('assignee_unknown');
    const cleared = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/assign`, analyst.token, {
      userId: null,
    });
    expect(cleared.json.assignee).toBeNull();

    const posted = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/comments`, analyst.token, {
      text: 'checking with the floor lead',
    });
    expect(posted.status).toBe(201);
    const list = await api(c.url, 'GET', `/api/v1/alerts/${alertId}/comments`, viewer.token);
    expect(list.json.comments).toHaveLength(1);
    expect(list.json.comments[0]).toMatchObject({
      text: 'checking with the floor lead',
      author: { id: analyst.id },
    });
    expect(Date.parse(list.json.comments[0].createdAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await auditCount(c, 'alert.assign', alertId)).toBe(2);
    expect(await auditCount(c, 'alert.comment', alertId)).toBe(1);
  });

  it('bulk-acknowledges, reporting alerts it cannot move without undoing the others', async () => {
    const a = await raiseAlert(c, agent, { inode: 1004, exe: '/opt/a/tcpdump' });
    const b = await raiseAlert(c, agent, { inode: 1005, exe: '/opt/b/tcpdump' });
    await api(c.url, 'POST', `/api/v1/alerts/${b.alertId}/transition`, analyst.token, {
      status: 'acknowledged',
    });
    const missing = '00000000-0000-4000-8000-000000000002';
    const res = await api(c.url, 'POST', '/api/v1/alerts/bulk', analyst.token, {
      ids: [a.alertId, b.alertId, missing],
      action: 'acknowledge',
    });
    expect(res.status).toBe(200);
    expect(res.json.results).toEqual([
      { id: a.alertId, ok: true },
      { id: b.alertId, ok: false, error: { code: 'illegal_transition', message: expect.any(String) } },
      { id: missing, ok: false, error: { code: 'not_found', message: 'alert not found' } },
    ]);
    const assign = await api(c.url, 'POST', '/api/v1/alerts/bulk', analyst.token, {
      ids: [a.alertId, b.alertId],
      action: 'assign',
      userId: analyst.id,
    });
    expect(assign.json.results.every((r: { ok: boolean }) => r.ok)).toBe(true);
    const check = await api(c.url, 'GET', `/api/v1/alerts?assignee=${analyst.id}`, viewer.token);
    expect(check.json.alerts.map((x: { id: string }) => x.id).sort()).toEqual([a.alertId, b.alertId].sort());
    const noUser = await api(c.url, 'POST', '/api/v1/alerts/bulk', analyst.token, {
      ids: [a.alertId],
      action: 'assign',
    });
    expect(noUser.json.error.code).toBe('user_id_required');
  });

  it('lists with filters, text search, sorting and cursor pages', async () => {
    const other = await enrolledAgent(c);
    await c.testDb.db.query(`UPDATE agents SET hostname = 'ws-floor2-17' WHERE id = $1`, [other.id]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await raiseAlert(c, other, { inode: 2000 + i, exe: `/tmp/sniff${i}` })).alertId);
    const byAgent = await api(c.url, 'GET', `/api/v1/alerts?agent=${other.id}&limit=2`, viewer.token);
    expect(byAgent.json.alerts).toHaveLength(2);
    const page2 = await api(
      c.url,
      'GET',
      `/api/v1/alerts?agent=${other.id}&limit=2&cursor=${byAgent.json.nextCursor}`,
      viewer.token,
    );
    const page3 = await api(
      c.url,
      'GET',
      `/api/v1/alerts?agent=${other.id}&limit=2&cursor=${page2.json.nextCursor}`,
      viewer.token,
    );
    const seen = [...byAgent.json.alerts, ...page2.json.alerts, ...page3.json.alerts].map(
      (x: { id: string }) => x.id,
    );
    expect(new Set(seen)).toEqual(new Set(ids));
    expect(page3.json.nextCursor).toBeNull();

    const text = await api(c.url, 'GET', '/api/v1/alerts?q=FLOOR2', viewer.token);
    expect(text.json.alerts.map((x: { id: string }) => x.id).sort()).toEqual([...ids].sort());
    const entity = await api(c.url, 'GET', '/api/v1/alerts?q=%2Ftmp%2Fsniff3', viewer.token);
    expect(entity.json.alerts.map((x: { id: string }) => x.id)).toEqual([ids[3]]);
    const wildcard = await api(c.url, 'GET', '/api/v1/alerts?q=%25', viewer.token);
    expect(wildcard.json.alerts).toEqual([]);

    const levels = await api(c.url, 'GET', '/api/v1/alerts?sort=level&order=asc&limit=3', viewer.token);
    expect(levels.status).toBe(200);
    const mixed = await api(
      c.url,
      'GET',
      `/api/v1/alerts?sort=count&cursor=${byAgent.json.nextCursor}`,
      viewer.token,
    );
    expect(mixed.status).toBe(400);
    expect(mixed.json.error.code).toBe('bad_cursor');
    const future = await api(
      c.url,
      'GET',
      `/api/v1/alerts?from=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`,
      viewer.token,
    );
    expect(future.json.alerts).toEqual([]);
    const byGroup = await api(c.url, 'GET', '/api/v1/alerts?group=nope', viewer.token);
    expect(byGroup.json.alerts).toEqual([]);
  });

  it('lists agents with online state from last_seen', async () => {
    const res = await api(c.url, 'GET', '/api/v1/agents', ADMIN_TOKEN);
    expect(res.status).toBe(200);
    const me = res.json.agents.find((a: { id: string }) => a.id === agent.id);
    expect(me).toMatchObject({ groupId: 'default', online: true, platform: 'linux' });
    await c.testDb.db.query(`UPDATE agents SET last_seen = now() - interval '2 minutes' WHERE id = $1`, [
      agent.id,
    ]);
    const one = await api(c.url, 'GET', `/api/v1/agents/${agent.id}`, viewer.token);
    expect(one.json.online).toBe(false);
    expect(one.json.openAlerts).toBeGreaterThan(0);
  });
});
