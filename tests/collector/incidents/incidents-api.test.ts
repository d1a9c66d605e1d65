import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollAgent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, seedAlert } from './support.js';

interface Detail {
  id: string;
  status: string;
  severity: string;
  resolution: string | null;
  closedAt: string | null;
  containedAt: string | null;
  awareAt: string | null;
  affectedAgents: Array<{ id: string; hostname: string; source: string }>;
  affectedUsers: string[];
  affectedPeople: number;
  deadlines: Array<{
    jurisdictionId: string;
    obligationId: string;
    dueAt: string | null;
    remainingMs: number | null;
  }>;
  tasks: Array<{ key: string; state: string; dueAt: string | null; overdue: boolean }>;
  hotlineForecast: { totalCallsLow: number; totalCallsHigh: number; days: unknown[] };
  alerts: Array<{ id: string }>;
  timeline: Array<{ kind: string; actor: string; details: Record<string, unknown> }>;
}

describe.each(engines)('incidents API on %s', (engine) => {
  let collector: RunningCollector;
  let agentId: string;
  beforeAll(async () => {
    // Jobs far apart: these tests drive incidents through the API only.
    collector = await startCollector(engine, { escalationPollMs: 3_600_000, overduePollMs: 3_600_000 });
    ({ agentId } = await enrollAgent(collector.url));
    // PGlite starts slowly on a loaded machine.
  }, 180_000);
  afterAll(async () => collector?.close());

  const count = async (table: string) =>
    (await collector.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

  it('opens an incident from alerts with its checklist, deadlines and forecast', async () => {
    const alertId = await seedAlert(collector, agentId, { evidence: { user: 'CONTOSO\\jdoe' } });
    const awareAt = new Date(Date.now() - 3_600_000).toISOString();
    const res = await api<Detail>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'Sniffer on ws-test-01',
      severity: 'high',
      alertIds: [alertId],
      awareAt,
      affectedCounts: { 'eu-gdpr': 1200, 'us-ca': 600 },
      dataCategories: ['payment_card', 'contact_data'],
      contacts: { legal: { name: 'Counsel', email: 'legal@example.com' } },
    });
    expect(res.status).toBe(201);
    const incident = res.body;
    expect(incident.status).toBe('new');
    expect(incident.alerts.map((a) => a.id)).toEqual([alertId]);
    expect(incident.affectedAgents).toEqual([{ id: agentId, hostname: 'ws-test-01', source: 'alerts' }]);
    expect(incident.affectedUsers).toEqual(['CONTOSO\\jdoe']);
    expect(incident.affectedPeople).toBe(1800);

    const gdpr = incident.deadlines.find(
      (d) => d.jurisdictionId === 'eu-gdpr' && d.obligationId === 'supervisory-authority',
    );
    expect(gdpr?.dueAt).toBe(new Date(Date.parse(awareAt) + 72 * 3_600_000).toISOString());
    expect(gdpr!.remainingMs!).toBeGreaterThan(70 * 3_600_000);
    expect(gdpr!.remainingMs!).toBeLessThan(71 * 3_600_000);

    const keys = incident.tasks.map((t) => t.key);
    expect(keys).toContain('contain.isolate-workstation');
    expect(keys).toContain('notify.eu-gdpr.supervisory-authority');
    expect(keys).toContain('notify.us-ca.individuals');
    expect(incident.tasks.every((t) => t.state === 'todo')).toBe(true);
    expect(incident.hotlineForecast.totalCallsHigh).toBeCloseTo(1800 * 0.15);
    expect(incident.timeline.map((e) => e.kind)).toEqual(['incident.opened', 'trigger.queued']);
  });

  it('keeps an alert in one incident: the API answers 409 and the database refuses a second link', async () => {
    const alertId = await seedAlert(collector, agentId);
    const first = await api<Detail>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'first',
      severity: 'medium',
      alertIds: [alertId],
    });
    expect(first.status).toBe(201);
    const before = await count('incidents');
    const second = await api<{ error: { code: string } }>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'second',
      severity: 'medium',
      alertIds: [alertId],
    });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('alert_already_linked');
    expect(await count('incidents')).toBe(before);

    const other = await api<Detail>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'other',
      severity: 'low',
    });
    const link = await api<{ error: { code: string } }>(
      collector.url,
      'POST',
      `/api/v1/incidents/${other.body.id}/alerts`,
      {
        alertIds: [alertId],
      },
    );
    expect(link.status).toBe(409);
    await expect(
      collector.testDb.db.query(
        'INSERT INTO incident_alerts (alert_id, incident_id, linked_by) VALUES ($1, $2, $3)',
        [alertId, other.body.id, 'test'],
      ),
    ).rejects.toThrow(/duplicate key|unique/i);
  });

  it('links further alerts and records them in the timeline', async () => {
    const created = await api<Detail>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'grows',
      severity: 'low',
    });
    const a = await seedAlert(collector, agentId);
    const b = await seedAlert(collector, agentId);
    const res = await api<{ linked: string[] }>(
      collector.url,
      'POST',
      `/api/v1/incidents/${created.body.id}/alerts`,
      {
        alertIds: [a, b, a],
      },
    );
    expect(res.status).toBe(200);
    expect(res.body.linked.sort()).toEqual([a, b].sort());
    const detail = await api<Detail>(collector.url, 'GET', `/api/v1/incidents/${created.body.id}`);
    expect(detail.body.alerts.map((x) => x.id).sort()).toEqual([a, b].sort());
    expect(detail.body.timeline.find((e) => e.kind === 'alerts.linked')?.details.alertIds).toHaveLength(2);
  });

  it('recomputes the checklist when affected counts change and keeps task states', async () => {
    const created = await api<Detail>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'recount',
      severity: 'high',
      affectedCounts: { 'eu-gdpr': 10 },
    });
    const id = created.body.id;
    const task = await api<Detail>(
      collector.url,
      'PATCH',
      `/api/v1/incidents/${id}/tasks/contain.isolate-workstation`,
      {
        state: 'done',
      },
    );
    expect(task.status).toBe(200);
    const updated = await api<Detail>(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
      affectedCounts: { 'eu-gdpr': 10, 'us-tx': 300 },
    });
    expect(updated.status).toBe(200);
    const keys = updated.body.tasks.map((t) => t.key);
    expect(keys).toContain('notify.us-tx.individuals');
    expect(updated.body.tasks.find((t) => t.key === 'contain.isolate-workstation')?.state).toBe('done');
    expect(updated.body.timeline.some((e) => e.kind === 'task.updated')).toBe(true);
    expect(updated.body.timeline.some((e) => e.kind === 'incident.updated')).toBe(true);
  });

  it('refuses an unknown jurisdiction, a bad time zone and a backwards status, changing nothing', async () => {
    const created = await api<Detail>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'strict',
      severity: 'low',
    });
    const id = created.body.id;
    const timelineBefore = created.body.timeline.length;
    const unknown = await api<{ error: { code: string } }>(
      collector.url,
      'PATCH',
      `/api/v1/incidents/${id}`,
      {
        affectedCounts: { 'mars-colony': 5 },
      },
    );
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('affected_counts_invalid');
    const zone = await api<{ error: { code: string } }>(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
      timezone: 'Mars/Olympus_Mons',
    });
    expect(zone.status).toBe(400);
    await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, { status: 'contained' });
    const back = await api<{ error: { code: string } }>(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
      status: 'investigating',
    });
    expect(back.status).toBe(409);
    expect(back.body.error.code).toBe('status_transition_invalid');
    const detail = await api<Detail>(collector.url, 'GET', `/api/v1/incidents/${id}`);
    expect(detail.body.status).toBe('contained');
    expect(detail.body.containedAt).not.toBeNull();
    expect(detail.body.timeline.filter((e) => e.kind === 'incident.updated')).toHaveLength(1);
    // The update, and the incident.acknowledged trigger of leaving `new`.
    expect(detail.body.timeline.length).toBe(timelineBefore + 2);
    expect(detail.body.timeline.at(-1)).toMatchObject({
      kind: 'trigger.queued',
      details: { kind: 'incident.acknowledged' },
    });
  });

  it('closes only with a resolution, and a closed incident is final', async () => {
    const created = await api<Detail>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'close me',
      severity: 'low',
    });
    const id = created.body.id;
    const noResolution = await api<{ error: { code: string } }>(
      collector.url,
      'PATCH',
      `/api/v1/incidents/${id}`,
      {
        status: 'closed',
      },
    );
    expect(noResolution.status).toBe(400);
    expect(noResolution.body.error.code).toBe('resolution_required');
    const closed = await api<Detail>(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
      status: 'closed',
      resolution: 'no_breach',
    });
    expect(closed.status).toBe(200);
    expect(closed.body.resolution).toBe('no_breach');
    expect(closed.body.closedAt).not.toBeNull();
    const again = await api<{ error: { code: string } }>(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
      title: 'renamed',
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('incident_closed');
  });

  it('lets a viewer read but not change incidents', async () => {
    const list = await api<{ incidents: unknown[] }>(collector.url, 'GET', '/api/v1/incidents?limit=2');
    expect(list.status).toBe(200);
    expect(list.body.incidents).toHaveLength(2);
    const anonymous = await fetch(`${collector.url}/api/v1/incidents`);
    expect(anonymous.status).toBe(401);
  });
});
