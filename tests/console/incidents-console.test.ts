// The incident page's edit form, task owner/due, alert linking and the list pager, through the
// console routes (Bearer session tokens: no CSRF token needed, roles enforced as for the API),
// and the incident link the alert pages show.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userWithRole } from '../collector/auth/helpers.js';
import { api, seedAlert } from '../collector/incidents/support.js';
import { enrollAgent } from '../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';

describe('incident console', { timeout: 120_000 }, () => {
  let collector: RunningCollector;
  let manager: { token: string; id: string };
  let analyst: { token: string };

  beforeAll(async () => {
    collector = await startCollector(engines[0]!, { escalationPollMs: 3_600_000, overduePollMs: 3_600_000 });
    manager = await userWithRole(collector.url, 'incident_manager');
    analyst = await userWithRole(collector.url, 'analyst');
  }, 180_000);
  afterAll(async () => collector?.close());

  const post = (path: string, token: string, form: Record<string, string | string[]>) => {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(form))
      for (const v of Array.isArray(value) ? value : [value]) body.append(key, v);
    return fetch(`${collector.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  };
  const page = async (path: string, token = manager.token) => {
    const res = await fetch(`${collector.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return res.text();
  };
  type Detail = {
    ownerId: string | null;
    severity: string;
    summary: string;
    timezone: string;
    awareAt: string | null;
    discoveredAt: string | null;
    dataCategories: string[];
    contacts: Record<string, Record<string, string>>;
    hotline: { ahtSec: number; callShare: { low: number; high: number }; outsourcerPool: unknown };
    tasks: Array<{ key: string; ownerId: string | null; dueAt: string | null; state: string }>;
    alerts: Array<{ id: string }>;
    hotlineForecast: { intervals: Array<{ outsourcer?: { requiredPoolHigh: number } }> };
  };
  const detail = async (id: string) =>
    (await api<Detail>(collector.url, 'GET', `/api/v1/incidents/${id}`)).body;
  const open = async () =>
    (
      await api<{ id: string }>(collector.url, 'POST', '/api/v1/incidents', {
        title: 'Leak',
        severity: 'medium',
      })
    ).body.id;

  it('lets an incident manager set clocks, owner, severity, data, contacts and hotline; refuses an analyst', async () => {
    const id = await open();
    const form = {
      title: 'Leak',
      summary: 'Cards captured on CC-0142',
      severity: 'critical',
      ownerId: manager.id,
      timezone: 'America/New_York',
      awareAt: '2026-03-08T01:30',
      discoveredAt: '2026-03-08T03:30',
      determinedAt: '',
      containedAt: '',
      dataCategories: ['payment_card', 'contact_data'],
      extraUsers: 'jdoe\nasmith',
      'contact.legal.name': 'Lee Gal',
      'contact.legal.email': 'legal@example.com',
      callShareLow: '2',
      callShareHigh: '10',
      ahtSec: '420',
      targetServiceLevel: '80',
      targetAnswerSec: '20',
      poolAgents: '50',
      poolShrinkage: '20',
    };
    const refused = await post(`/console/incidents/${id}/edit`, analyst.token, form);
    expect(refused.status).toBe(403);
    expect((await detail(id)).severity).toBe('medium');

    const saved = await post(`/console/incidents/${id}/edit`, manager.token, form);
    expect(saved.status).toBe(303);
    const after = await detail(id);
    expect(after).toMatchObject({
      severity: 'critical',
      ownerId: manager.id,
      summary: 'Cards captured on CC-0142',
      timezone: 'America/New_York',
      // 01:30 EST is before the DST change, 03:30 EDT after it.
      awareAt: '2026-03-08T06:30:00.000Z',
      discoveredAt: '2026-03-08T07:30:00.000Z',
      contacts: { legal: { name: 'Lee Gal', email: 'legal@example.com' } },
      hotline: {
        ahtSec: 420,
        callShare: { low: 0.02, high: 0.1 },
        outsourcerPool: { agents: 50, shrinkage: 0.2 },
      },
    });
    expect(after.dataCategories.sort()).toEqual(['contact_data', 'payment_card']);

    // Saving the same form again changes nothing (no spurious clock or hotline change).
    const again = await post(`/console/incidents/${id}/edit`, manager.token, form);
    expect(again.status).toBe(303);
    const { rows } = await collector.testDb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE target_type = 'incident' AND target_id = $1 AND action = 'incident.update'`,
      [id],
    );
    expect(rows[0]!.n).toBe(1);

    const html = await page(`/console/incidents/${id}`);
    expect(html).toContain('Lee Gal');
    expect(html).toContain('payment card');
    expect(html).toContain('jdoe');
    expect(html).toContain('Not legal advice');
  });

  it('sets a task owner and due time from the checklist', async () => {
    const id = await open();
    const res = await post(`/console/incidents/${id}/tasks/contain.isolate-workstation`, manager.token, {
      state: 'doing',
      ownerId: manager.id,
      dueAt: '2030-01-02T09:15',
    });
    expect(res.status).toBe(303);
    const task = (await detail(id)).tasks.find((t) => t.key === 'contain.isolate-workstation')!;
    expect(task).toMatchObject({ state: 'doing', ownerId: manager.id, dueAt: '2030-01-02T09:15:00.000Z' });
  });

  it('links alerts from the incident page and shows the incident on the alert pages', async () => {
    const id = await open();
    const { agentId } = await enrollAgent(collector.url);
    const alertId = await seedAlert(collector, agentId, { ruleTitle: 'Sniffer started' });
    const res = await post(`/console/incidents/${id}/alerts`, analyst.token, { alertIds: `${alertId}\n` });
    expect(res.status).toBe(303);
    expect((await detail(id)).alerts.map((a) => a.id)).toEqual([alertId]);
    const link = `href="/console/incidents/${id}"`;
    expect(await page(`/console/alerts/${alertId}`, analyst.token)).toContain(link);
    expect(await page('/console/alerts', analyst.token)).toContain(link);
  });

  it('pages through more incidents than one page holds', async () => {
    for (let i = 0; i < 51; i++) await open();
    const first = await page('/console/incidents');
    const next = /href="(\/console\/incidents\?cursor=[^"]+)"/.exec(first)?.[1];
    expect(next).toBeDefined();
    const second = await page(next!.replaceAll('&amp;', '&'));
    expect(second).toContain('Newest');
    const ids = (html: string) =>
      [...html.matchAll(/href="\/console\/incidents\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    expect(ids(first)).toHaveLength(50);
    expect(ids(second).length).toBeGreaterThan(0);
    expect(ids(second).some((x) => ids(first).includes(x))).toBe(false);
  });
});
