// A dead-lettered trigger raises a Vigil alert without a workstation (a "collector alert"): it is in
// the alerts API and the console queue, repeated dead letters on one channel bump one alert, agent
// and group filters leave it out, and the escalation queue lets it go.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_RULE } from '../../../collector/notify/dead-letter-alert.js';
import { enrollAgent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { userWithRole } from '../auth/helpers.js';
import { api, eventually, seedAlert } from '../incidents/support.js';
import { quickDelivery } from './fixtures.js';
import { startReceiver } from './receiver.js';

interface ApiAlert {
  id: string;
  ruleId: string;
  ruleTitle: string;
  level: string;
  agentId: string | null;
  groupId: string | null;
  hostname: string;
  entity: string;
  status: string;
  count: number;
  evidence?: Record<string, unknown>;
}

describe.each(engines)('dead-letter alerts on %s', (engine) => {
  let collector: RunningCollector;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let channelId: string;
  let channelName: string;
  let agentAlertId: string;

  beforeAll(async () => {
    // The receiver always fails: every trigger to it is dead-lettered after the last attempt.
    receiver = await startReceiver((_req, res) => res.writeHead(500).end());
    collector = await startCollector(engine, {
      ...quickDelivery,
      notifyRetryDelaysMs: [0, 50, 50],
      escalationPollMs: 100,
    });
    channelName = `failing-${Math.random().toString(36).slice(2, 8)}`;
    const channel = await api<{ id: string }>(collector.url, 'POST', '/api/v1/notify/channels', {
      name: channelName,
      type: 'webhook',
      url: receiver.url('/fail'),
      events: ['incident.opened'],
    });
    expect(channel.status).toBe(201);
    channelId = channel.body.id;
    const { agentId } = await enrollAgent(collector.url);
    agentAlertId = await seedAlert(collector, agentId, { ruleTitle: 'Workstation rule' });
  }, 180_000);
  afterAll(async () => {
    await collector?.close();
    await receiver?.close();
  });

  const openIncident = async (title: string) => {
    const res = await api<{ id: string }>(collector.url, 'POST', '/api/v1/incidents', {
      title,
      severity: 'high',
    });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const deadRows = async () =>
    (
      await collector.testDb.db.query<{ id: string }>(
        `SELECT id::text AS id FROM notify_outbox WHERE channel_id = $1 AND status = 'dead'`,
        [channelId],
      )
    ).rows;
  const deadLetterAlerts = async () =>
    (
      await api<{ alerts: ApiAlert[] }>(
        collector.url,
        'GET',
        `/api/v1/alerts?rule=${DEAD_LETTER_RULE.id}&limit=100`,
      )
    ).body.alerts;

  it('raises one alert for the dead letter, and bumps it for the next on the same channel', async () => {
    const firstIncident = await openIncident('First doomed incident');
    await eventually('first dead letter', async () => ((await deadRows()).length === 1 ? true : undefined));
    const [alert] = await deadLetterAlerts();
    expect(alert).toMatchObject({
      ruleId: 'vigil-notify-dead-letter',
      ruleTitle: 'Notification could not be delivered',
      level: 'high',
      agentId: null,
      groupId: null,
      hostname: 'collector',
      entity: channelId,
      status: 'open',
      count: 1,
    });

    const detail = await api<ApiAlert & { evidence: Record<string, unknown>; eventCount: number }>(
      collector.url,
      'GET',
      `/api/v1/alerts/${alert!.id}`,
    );
    expect(detail.status).toBe(200);
    expect(detail.body.eventCount).toBe(0);
    expect(detail.body.evidence).toMatchObject({
      eventType: 'notify.dead_letter',
      channelId,
      channel: channelName,
      channelKind: 'webhook',
      trigger: 'incident.opened',
      incidentId: firstIncident,
      incidentTitle: 'First doomed incident',
      attempts: 3,
    });
    expect(String(detail.body.evidence.lastError)).toMatch(/500/);

    const secondIncident = await openIncident('Second doomed incident');
    await eventually('second dead letter', async () => ((await deadRows()).length === 2 ? true : undefined));
    const bumped = await deadLetterAlerts();
    expect(bumped).toHaveLength(1);
    expect(bumped[0]).toMatchObject({ id: alert!.id, count: 2 });
    const latest = await api<{ evidence: Record<string, unknown> }>(
      collector.url,
      'GET',
      `/api/v1/alerts/${alert!.id}`,
    );
    expect(latest.body.evidence).toMatchObject({
      incidentId: secondIncident,
      incidentTitle: 'Second doomed incident',
    });
  });

  it('lists it with workstation alerts, and agent and group filters leave it out', async () => {
    const [deadLetter] = await deadLetterAlerts();
    const all = (await api<{ alerts: ApiAlert[] }>(collector.url, 'GET', '/api/v1/alerts?limit=100')).body
      .alerts;
    expect(all.map((a) => a.id)).toEqual(expect.arrayContaining([deadLetter!.id, agentAlertId]));
    const agentAlert = all.find((a) => a.id === agentAlertId)!;
    expect(agentAlert.agentId).not.toBeNull();
    for (const filter of [`agent=${agentAlert.agentId}`, `group=${agentAlert.groupId}`]) {
      const res = await api<{ alerts: ApiAlert[] }>(collector.url, 'GET', `/api/v1/alerts?${filter}`);
      expect(res.status).toBe(200);
      expect(res.body.alerts.map((a) => a.id)).toEqual([agentAlertId]);
    }
    const searched = await api<{ alerts: ApiAlert[] }>(
      collector.url,
      'GET',
      '/api/v1/alerts?q=could%20not%20be%20delivered',
    );
    expect(searched.body.alerts.map((a) => a.id)).toEqual([deadLetter!.id]);
    const byWorkstation = await api<{ alerts: ApiAlert[] }>(
      collector.url,
      'GET',
      '/api/v1/alerts?sort=workstation&order=asc',
    );
    expect(byWorkstation.status).toBe(200);
    expect(byWorkstation.body.alerts).toHaveLength(2);
  });

  it('leaves the escalation queue without opening an incident', async () => {
    const [deadLetter] = await deadLetterAlerts();
    await eventually('escalation checked', async () => {
      const { rows } = await collector.testDb.db.query<{ checked: boolean }>(
        'SELECT escalation_checked_at IS NOT NULL AS checked FROM alerts WHERE id = $1',
        [deadLetter!.id],
      );
      return rows[0]?.checked ? true : undefined;
    });
    const linked = await collector.testDb.db.query('SELECT 1 FROM incident_alerts WHERE alert_id = $1', [
      deadLetter!.id,
    ]);
    expect(linked.rowCount).toBe(0);
  });

  it('takes triage but refuses a workstation exception', async () => {
    const [deadLetter] = await deadLetterAlerts();
    const exception = await api<{ error: { code: string } }>(
      collector.url,
      'POST',
      `/api/v1/alerts/${deadLetter!.id}/exceptions`,
      { scope: 'group', reason: 'flaky receiver' },
    );
    expect(exception.status).toBe(400);
    expect(exception.body.error.code).toBe('collector_alert');
    const acknowledged = await api<ApiAlert>(
      collector.url,
      'POST',
      `/api/v1/alerts/${deadLetter!.id}/transition`,
      { status: 'acknowledged' },
    );
    expect(acknowledged.status).toBe(200);
    expect(acknowledged.body).toMatchObject({ status: 'acknowledged', agentId: null, hostname: 'collector' });
  });

  it('shows in the console queue and on its detail page', async () => {
    const [deadLetter] = await deadLetterAlerts();
    const { token } = await userWithRole(collector.url, 'analyst');
    const get = async (path: string) => {
      const res = await fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, html: await res.text() };
    };
    const queue = await get('/console/alerts');
    expect(queue.status).toBe(200);
    expect(queue.html).toContain(`/console/alerts/${deadLetter!.id}`);
    expect(queue.html).toContain('Notification could not be delivered');
    expect(queue.html).toMatch(/title="Raised by the collector itself[^"]*"[^>]*>\s*collector\s*</);
    const page = await get(`/console/alerts/${deadLetter!.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('raised by the <strong>collector</strong>');
    expect(page.html).toContain(channelName);
    expect(page.html).toContain('Second doomed incident');
    expect(page.html).not.toContain('Create an exception');
    expect(page.html).not.toContain('Other alerts of this workstation');
  });
});
