// What an incident change leaves behind: the audit record of every change (and of channel
// changes, secrets masked), a timeline that includes the triage of its alerts, the legal
// disclaimer and rule sources, the checklist from the first minute, bounded affected counts, a
// console link in triggers that opens, and deliveries that outlive a deleted channel.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollAgent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { quickDelivery } from '../notify/fixtures.js';
import { startReceiver } from '../notify/receiver.js';
import { api, eventually, seedAlert } from './support.js';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

interface AuditRow {
  action: string;
  target_type: string;
  target_id: string;
  actor_name: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

describe.each(engines)('incident record on %s', (engine) => {
  let collector: RunningCollector;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver((_req, res) => res.writeHead(204).end());
    collector = await startCollector(engine, { ...quickDelivery });
  }, 180_000);
  afterAll(async () => {
    await collector?.close();
    await receiver?.close();
  });

  const auditOf = async (targetType: string, targetId: string) =>
    (
      await collector.testDb.db.query<AuditRow>(
        `SELECT action, target_type, target_id, actor_name, before, after FROM audit_log
          WHERE target_type = $1 AND target_id = $2 ORDER BY id`,
        [targetType, targetId],
      )
    ).rows;
  const open = async (body: Record<string, unknown> = {}) => {
    const res = await api<{ id: string }>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'Sniffer on CC-0142',
      severity: 'high',
      ...body,
    });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const webhook = async (name: string) => {
    const res = await api<{ id: string }>(collector.url, 'POST', '/api/v1/notify/channels', {
      name,
      type: 'webhook',
      url: receiver.url(`/${name}`),
      secret: SECRET,
      events: ['incident.opened'],
    });
    expect(res.status).toBe(201);
    return res.body.id;
  };

  it('puts a console link that opens (not 404) into delivered triggers', async () => {
    await webhook('link');
    const id = await open();
    const request = await eventually('the trigger', async () =>
      receiver.received.find((r) => r.path === '/link' && r.body.includes(id)),
    );
    const url = (JSON.parse(request.body) as { data: { incident: { url: string } } }).data.incident.url;
    expect(url).toBe(`${collector.url}/console/incidents/${id}`);
    const page = await fetch(url, { redirect: 'manual' });
    // Anonymous: the console sends the browser to its login page (or answers 401 to non-browsers).
    expect([200, 302, 303, 401]).toContain(page.status);
    expect(page.status).not.toBe(404);
    const withToken = await fetch(url, { headers: { authorization: 'Bearer vgl_test_admin_token' } });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toContain('Sniffer on CC-0142');
  });

  it('audits create, update, status, alert links and task changes in their transaction', async () => {
    const { agentId } = await enrollAgent(collector.url);
    const first = await seedAlert(collector, agentId);
    const second = await seedAlert(collector, agentId);
    const id = await open({ alertIds: [first] });
    expect(
      (
        await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
          summary: 'scoped',
          severity: 'critical',
        })
      ).status,
    ).toBe(200);
    expect(
      (await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, { status: 'investigating' })).status,
    ).toBe(200);
    expect(
      (await api(collector.url, 'POST', `/api/v1/incidents/${id}/alerts`, { alertIds: [second] })).status,
    ).toBe(200);
    expect(
      (
        await api(collector.url, 'PATCH', `/api/v1/incidents/${id}/tasks/contain.isolate-workstation`, {
          state: 'done',
        })
      ).status,
    ).toBe(200);
    // A refused change leaves no audit record.
    expect((await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, { status: 'new' })).status).toBe(
      409,
    );

    const rows = await auditOf('incident', id);
    expect(rows.map((r) => r.action)).toEqual([
      'incident.create',
      'incident.update',
      'incident.status',
      'incident.link_alerts',
      'incident.task_update',
    ]);
    expect(rows[0]!.after).toMatchObject({ title: 'Sniffer on CC-0142', status: 'new', alertIds: [first] });
    expect(rows[1]).toMatchObject({
      before: { summary: '', severity: 'high' },
      after: { summary: 'scoped', severity: 'critical' },
    });
    expect(rows[2]).toMatchObject({ before: { status: 'new' }, after: { status: 'investigating' } });
    expect(rows[3]!.after).toEqual({ alertIds: [second] });
    expect(rows[4]).toMatchObject({
      before: { key: 'contain.isolate-workstation', state: 'todo' },
      after: { key: 'contain.isolate-workstation', state: 'done' },
    });
    expect(rows.every((r) => r.actor_name === 'admin')).toBe(true);
  });

  it('merges the triage of linked alerts into the incident timeline by time', async () => {
    const { agentId } = await enrollAgent(collector.url);
    const alertId = await seedAlert(collector, agentId);
    const id = await open({ alertIds: [alertId] });
    expect(
      (await api(collector.url, 'POST', `/api/v1/alerts/${alertId}/comments`, { text: 'looks real' })).status,
    ).toBe(201);
    await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, { summary: 'after the comment' });
    const detail = await api<{
      timeline: Array<{ kind: string; at: string; source: string; details: Record<string, unknown> }>;
    }>(collector.url, 'GET', `/api/v1/incidents/${id}`);
    const kinds = detail.body.timeline.map((e) => e.kind);
    const comment = kinds.indexOf('alert.comment');
    expect(comment).toBeGreaterThan(kinds.indexOf('incident.opened'));
    expect(comment).toBeLessThan(kinds.indexOf('incident.updated'));
    expect(detail.body.timeline[comment]).toMatchObject({ source: 'alert_audit', details: { alertId } });
    const times = detail.body.timeline.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('shows the disclaimer and the rules with their sources', async () => {
    const id = await open({ affectedCounts: { 'eu-gdpr': 10 } });
    const detail = await api<{
      disclaimer: string;
      rulesReviewedAt: string;
      deadlines: Array<{ basis: string; clock: string; source: { citation: string; url: string } }>;
    }>(collector.url, 'GET', `/api/v1/incidents/${id}`);
    expect(detail.body.disclaimer).toMatch(/^Not legal advice/);
    expect(detail.body.rulesReviewedAt).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(detail.body.deadlines[0]).toMatchObject({
      clock: 'aware',
      source: { citation: expect.stringContaining('Art. 33') },
    });
    const rules = await api<{
      disclaimer: string;
      jurisdictions: Array<{ id: string; obligations: unknown[] }>;
    }>(collector.url, 'GET', '/api/v1/jurisdictions');
    expect(rules.status).toBe(200);
    expect(rules.body.disclaimer).toBe(detail.body.disclaimer);
    expect(rules.body.jurisdictions.map((j) => j.id)).toContain('us-ca');
  });

  it('lists notify, hotline and scripts from the opening, dated once counts are known, never twice', async () => {
    const id = await open();
    type Tasks = { tasks: Array<{ key: string; dueAt: string | null }> };
    const before = (await api<Tasks>(collector.url, 'GET', `/api/v1/incidents/${id}`)).body.tasks;
    expect(before.length).toBe(9);
    for (const key of ['notify.obligations', 'hotline.live', 'scripts.approve'])
      expect(before.find((t) => t.key === key)?.dueAt).toBeNull();
    const after = (
      await api<Tasks>(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
        affectedCounts: { 'us-ca': 800 },
        discoveredAt: new Date().toISOString(),
      })
    ).body.tasks;
    expect(after.filter((t) => t.key === 'hotline.live')).toHaveLength(1);
    expect(after.find((t) => t.key === 'hotline.live')?.dueAt).not.toBeNull();
    expect(after.find((t) => t.key === 'scripts.approve')?.dueAt).not.toBeNull();
    expect(after.some((t) => t.key === 'notify.obligations')).toBe(false);
    expect(after.some((t) => t.key === 'notify.us-ca.individuals')).toBe(true);
    expect(new Set(after.map((t) => t.key)).size).toBe(after.length);
  });

  it('refuses an affected count beyond any population with its own error code', async () => {
    const id = await open();
    const huge = await api<{ error: { code: string } }>(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
      affectedCounts: { 'us-ca': 1_000_000_000 },
    });
    expect(huge.status).toBe(400);
    expect(huge.body.error.code).toBe('affected_count_too_large');
    const large = await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
      affectedCounts: { 'us-ca': 300_000_000 },
    });
    expect(large.status).toBe(200);
  });

  it('soft-deletes a channel: audited with the secret masked, deliveries kept on the incident', async () => {
    const channelId = await webhook('doomed');
    const id = await open();
    await eventually('delivered', async () => {
      const { rows } = await collector.testDb.db.query<{ status: string }>(
        'SELECT status FROM notify_outbox WHERE channel_id = $1 AND incident_id = $2',
        [channelId, id],
      );
      return rows[0]?.status === 'delivered' ? true : undefined;
    });
    expect(
      (await api(collector.url, 'PATCH', `/api/v1/notify/channels/${channelId}`, { name: 'doomed-2' }))
        .status,
    ).toBe(200);
    expect((await api(collector.url, 'DELETE', `/api/v1/notify/channels/${channelId}`)).status).toBe(204);
    expect((await api(collector.url, 'DELETE', `/api/v1/notify/channels/${channelId}`)).status).toBe(404);

    const list = await api<{ channels: Array<{ id: string }> }>(
      collector.url,
      'GET',
      '/api/v1/notify/channels',
    );
    expect(list.body.channels.some((c) => c.id === channelId)).toBe(false);
    const detail = await api<{
      deliveries: Array<{ channelId: string; status: string; channelDeleted: boolean }>;
    }>(collector.url, 'GET', `/api/v1/incidents/${id}`);
    expect(detail.body.deliveries.find((d) => d.channelId === channelId)).toMatchObject({
      status: 'delivered',
      channelDeleted: true,
    });
    // The name is free again; a new incident reaches only live channels.
    await webhook('doomed');

    const audit = await auditOf('notify_channel', channelId);
    expect(audit.map((r) => r.action)).toEqual([
      'notify_channel.create',
      'notify_channel.update',
      'notify_channel.delete',
    ]);
    const secretBody = SECRET.slice(6);
    for (const row of audit) expect(JSON.stringify(row)).not.toContain(secretBody.slice(0, 20));
    expect(audit[1]).toMatchObject({ before: { name: 'doomed' }, after: { name: 'doomed-2' } });
  });
});
