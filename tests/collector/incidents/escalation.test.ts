import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  completeRule,
  EscalationRulesError,
  loadEscalationRules,
  validateEscalationRules,
} from '../../../collector/incidents/escalation.js';
import type { AlertFacts } from '../../../collector/incidents/repository.js';
import type { VigilEvent } from '../../../shared/events.js';
import { enrollAgent, packetSocketEvent, TestAgent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, eventually, seedAlert } from './support.js';

function webVisit(agentId: string, category: string, host: string): VigilEvent {
  const time = new Date().toISOString();
  return {
    id: uuidv7(),
    agentId,
    time,
    type: 'web.visit',
    data: { browser: 'chrome', profile: 'Default', user: 'jdoe', host, category, visitTime: time },
  } as VigilEvent;
}

interface IncidentRow {
  id: string;
  title: string;
  severity: string;
  opened_by: string;
  alert_ids: string[];
}

describe.each(engines)('escalation on %s', (engine) => {
  let collector: RunningCollector;
  beforeAll(async () => {
    collector = await startCollector(engine, { escalationPollMs: 100 });
    // PGlite starts slowly on a loaded machine.
  }, 180_000);
  afterAll(async () => collector?.close());

  const incidentsOf = async (agentId: string) =>
    (
      await collector.testDb.db.query<IncidentRow>(
        `SELECT i.id, i.title, i.severity, i.opened_by, array_agg(ia.alert_id::text ORDER BY ia.alert_id) AS alert_ids
           FROM incidents i JOIN incident_alerts ia ON ia.incident_id = i.id JOIN alerts a ON a.id = ia.alert_id
          WHERE a.agent_id = $1 GROUP BY i.id`,
        [agentId],
      )
    ).rows;
  const checked = async (alertId: string) =>
    (
      await collector.testDb.db.query<{ done: boolean }>(
        'SELECT escalation_checked_at IS NOT NULL AS done FROM alerts WHERE id = $1',
        [alertId],
      )
    ).rows[0]?.done;

  it('opens an incident for a critical alert, by the rule and in the timeline', async () => {
    const { agentId } = await enrollAgent(collector.url);
    const alertId = await seedAlert(collector, agentId, {
      level: 'critical',
      ruleTitle: 'Capture driver loaded',
    });
    const [incident] = await eventually('an incident', async () => {
      const rows = await incidentsOf(agentId);
      return rows.length > 0 ? rows : undefined;
    });
    expect(incident!.alert_ids).toEqual([alertId]);
    expect(incident!.opened_by).toBe('rule:critical-alert');
    expect(incident!.title).toBe('Critical alert on ws-test-01: Capture driver loaded');
    const detail = await api<{ timeline: Array<{ kind: string; actor: string }>; tasks: unknown[] }>(
      collector.url,
      'GET',
      `/api/v1/incidents/${incident!.id}`,
    );
    expect(detail.body.timeline[0]).toMatchObject({ kind: 'incident.opened', actor: 'rule:critical-alert' });
    expect(detail.body.tasks.length).toBeGreaterThan(0);

    // A second critical alert on the same agent joins the open incident instead of opening another.
    const second = await seedAlert(collector, agentId, { level: 'critical' });
    await eventually('the second alert checked', async () => ((await checked(second)) ? true : undefined));
    const after = await incidentsOf(agentId);
    expect(after).toHaveLength(1);
    expect(after[0]!.alert_ids).toEqual([alertId, second].sort());
  });

  it('opens an incident when a sniffer and a personal cloud visit happen on one agent (real ingest)', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId);
    agent.send({ type: 'events', seq: 1, events: [packetSocketEvent(agentId)] });
    await agent.waitFor((m) => m.type === 'ack' && m.seq === 1);
    const [sniffer] = (
      await collector.testDb.db.query<{ id: string }>('SELECT id FROM alerts WHERE agent_id = $1', [agentId])
    ).rows;
    expect(sniffer).toBeDefined();
    await eventually('the sniffer alert checked', async () =>
      (await checked(sniffer!.id)) ? true : undefined,
    );
    expect(await incidentsOf(agentId)).toHaveLength(0);

    agent.send({ type: 'events', seq: 2, events: [webVisit(agentId, 'personal_cloud', 'drive.google.com')] });
    await agent.waitFor((m) => m.type === 'ack' && m.seq === 2);
    const [incident] = await eventually('an incident', async () => {
      const rows = await incidentsOf(agentId);
      return rows.length > 0 ? rows : undefined;
    });
    agent.close();
    const alertIds = (
      await collector.testDb.db.query<{ id: string }>(
        'SELECT id::text AS id FROM alerts WHERE agent_id = $1 ORDER BY id',
        [agentId],
      )
    ).rows.map((r) => r.id);
    expect(alertIds).toHaveLength(2);
    expect(incident!.alert_ids).toEqual(alertIds);
    expect(incident!.opened_by).toBe('rule:sniffer-and-exfiltration-web');
    expect(incident!.severity).toBe('critical');
  });

  it('does not combine a sniffer and a webmail visit more than an hour apart', async () => {
    const { agentId } = await enrollAgent(collector.url);
    const sniffer = await seedAlert(collector, agentId, {
      level: 'high',
      tags: ['attack.t1557'],
      eventTime: new Date(Date.now() - 3 * 3_600_000),
    });
    const web = await seedAlert(collector, agentId, { evidence: { category: 'webmail', user: 'jdoe' } });
    await eventually('both alerts checked', async () =>
      (await checked(sniffer)) && (await checked(web)) ? true : undefined,
    );
    expect(await incidentsOf(agentId)).toHaveLength(0);
  });
});

describe.each(engines)('escalation after an incident closed on %s', (engine) => {
  let collector: RunningCollector;
  beforeAll(async () => {
    collector = await startCollector(engine, { escalationPollMs: 100 });
  }, 180_000);
  afterAll(async () => collector?.close());

  const incidentOfAlert = async (alertId: string) =>
    (
      await collector.testDb.db.query<{ incident_id: string }>(
        'SELECT incident_id::text AS incident_id FROM incident_alerts WHERE alert_id = $1',
        [alertId],
      )
    ).rows[0]?.incident_id;

  it('opens a new incident for activity that recurs with an alert of a closed incident', async () => {
    const { agentId } = await enrollAgent(collector.url);
    const sniffer = await seedAlert(collector, agentId, { level: 'high', tags: ['attack.t1040'] });
    const firstWeb = await seedAlert(collector, agentId, { evidence: { category: 'webmail', user: 'jdoe' } });
    const first = await eventually('the first incident', () => incidentOfAlert(firstWeb));
    expect(await incidentOfAlert(sniffer)).toBe(first);
    const closed = await api(collector.url, 'PATCH', `/api/v1/incidents/${first}`, {
      status: 'closed',
      resolution: 'no_breach',
    });
    expect(closed.status).toBe(200);

    // The sniffer (still linked to the closed incident) completes the rule again with a new visit.
    const secondWeb = await seedAlert(collector, agentId, {
      evidence: { category: 'personal_cloud', user: 'jdoe' },
    });
    const second = await eventually('a second incident', () => incidentOfAlert(secondWeb));
    expect(second).not.toBe(first);
    expect(await incidentOfAlert(sniffer)).toBe(first);
    const detail = await api<{
      status: string;
      timeline: Array<{ kind: string; details: Record<string, unknown> }>;
    }>(collector.url, 'GET', `/api/v1/incidents/${second}`);
    expect(detail.body.status).toBe('new');
    expect(detail.body.timeline.find((e) => e.kind === 'alerts.recurred')?.details).toEqual({
      closedIncidentAlerts: [{ alertId: sniffer, incidentId: first }],
    });
  });
});

describe('escalation rules data', () => {
  it('loads the built-in rules', () => {
    expect(loadEscalationRules().map((r) => r.id)).toEqual([
      'critical-alert',
      'sniffer-and-exfiltration-web',
    ]);
  });

  it('refuses rules that match everything, unknown levels and duplicate ids', () => {
    const rule = { id: 'x', title: 't', severity: 'high', all: [{ levels: ['high'] }] };
    expect(() => validateEscalationRules({ rules: [{ ...rule, all: [{}] }] })).toThrow(EscalationRulesError);
    expect(() => validateEscalationRules({ rules: [{ ...rule, all: [{ levels: ['severe'] }] }] })).toThrow(
      /unknown level/,
    );
    expect(() => validateEscalationRules({ rules: [rule, rule] })).toThrow(/duplicate/);
    expect(() => validateEscalationRules({ rules: [{ ...rule, all: [{ tagz: ['a'] }] }] })).toThrow(
      /not a matcher field/,
    );
  });

  it('completes a combination only with a companion inside the window', () => {
    const [, combo] = loadEscalationRules();
    const base: AlertFacts = {
      id: 'a',
      ruleId: 'r',
      ruleTitle: 't',
      level: 'high',
      tags: ['attack.t1040'],
      agentId: 'g',
      hostname: 'h',
      status: 'open',
      firstSeen: new Date('2026-01-01T10:00:00Z'),
      lastSeen: new Date('2026-01-01T10:05:00Z'),
      evidence: {},
      incidentId: null,
    };
    const web = (id: string, at: string): AlertFacts => ({
      ...base,
      id,
      tags: [],
      level: 'medium',
      evidence: { category: 'personal_cloud' },
      firstSeen: new Date(at),
      lastSeen: new Date(at),
    });
    expect(completeRule(combo!, base, [web('w1', '2026-01-01T11:10:00Z')])).toBeUndefined();
    expect(completeRule(combo!, base, [web('w2', '2026-01-01T11:00:00Z')])?.map((a) => a.id)).toEqual([
      'a',
      'w2',
    ]);
    expect(completeRule(combo!, web('w3', '2026-01-01T10:30:00Z'), [base])?.map((a) => a.id)).toEqual([
      'w3',
      'a',
    ]);
  });
});
