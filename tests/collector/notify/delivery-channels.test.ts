// Slack, Teams, PagerDuty and email delivered by the outbox worker to real local receivers (HTTP
// and SMTP), a PagerDuty alert acknowledged and resolved by real status transitions, the SSRF guard
// on SMTP hosts, crashed attempts marked failed when their lease runs out, and outbox rows that
// roll back with a failed incident change.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIncident } from '../../../collector/incidents/service.js';
import { claimDueDeliveries, insertChannel, insertOutboxRows } from '../../../collector/notify/repository.js';
import { DeliveryWorker } from '../../../collector/notify/worker.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, eventually } from '../incidents/support.js';
import { quickDelivery } from './fixtures.js';
import { type ReceivedRequest, startReceiver } from './receiver.js';
import { startSmtpServer } from './smtp.js';

const ROUTING_KEY = 'R0123456789abcdefABCDEF012345678';

describe.each(engines)('channels delivered by the worker on %s', (engine) => {
  let collector: RunningCollector;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

  beforeAll(async () => {
    receiver = await startReceiver((_req, res) => res.writeHead(202).end('{"status":"success"}'));
    smtp = await startSmtpServer();
    collector = await startCollector(engine, { ...quickDelivery });
    const channels = [
      { name: 'slack', type: 'slack', webhookUrl: receiver.url('/slack/T000/B000/XXXX') },
      { name: 'teams', type: 'teams', webhookUrl: receiver.url('/teams?sig=secret') },
      { name: 'pagerduty', type: 'pagerduty', routingKey: ROUTING_KEY, eventsUrl: receiver.url('/pd') },
      {
        name: 'email',
        type: 'email',
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true },
        from: 'vigil@example.com',
        to: ['oncall@example.com'],
      },
    ];
    for (const channel of channels) {
      const res = await api(collector.url, 'POST', '/api/v1/notify/channels', channel);
      expect(res.status).toBe(201);
    }
  }, 180_000);
  afterAll(async () => {
    await collector?.close();
    await receiver?.close();
    await smtp?.close();
  });

  const bodies = (prefix: string, incidentId: string) =>
    receiver.received
      .filter((r: ReceivedRequest) => r.path.startsWith(prefix) && r.body.includes(incidentId))
      // biome-ignore lint/suspicious/noExplicitAny: payload shapes are checked field by field below
      .map((r) => JSON.parse(r.body) as Record<string, any>);
  const waitFor = <T>(what: string, probe: () => T | undefined) =>
    eventually(what, async () => probe(), 15_000);

  it('delivers every channel type with its documented payload shape', async () => {
    const created = await api<{ id: string }>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'Sniffer on CC-0142',
      summary: 'tcpdump on eth0',
      severity: 'high',
    });
    const id = created.body.id;
    const consoleUrl = `${collector.url}/console/incidents/${id}`;

    const [slack] = await waitFor('slack', () => bodies('/slack', id)[0] && bodies('/slack', id));
    expect(slack!.text).toBe('Incident opened: Sniffer on CC-0142');
    expect(slack!.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    const button = slack!.blocks.find((b: { type: string }) => b.type === 'actions').elements[0];
    expect(button).toMatchObject({ type: 'button', url: consoleUrl });

    const [teams] = await waitFor('teams', () => bodies('/teams', id)[0] && bodies('/teams', id));
    expect(teams!.type).toBe('message');
    expect(teams!.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = teams!.attachments[0].content;
    expect(card).toMatchObject({ type: 'AdaptiveCard', version: '1.4' });
    expect(card.actions[0]).toEqual({ type: 'Action.OpenUrl', title: 'Open incident', url: consoleUrl });

    const [pd] = await waitFor('pagerduty', () => bodies('/pd', id)[0] && bodies('/pd', id));
    expect(pd).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: id,
      payload: { severity: 'error', source: 'vigil-collector', class: 'incident.opened' },
      client_url: consoleUrl,
    });

    const mail = await waitFor('email', () => smtp.received.find((m) => m.raw.includes(id)));
    expect(mail.from).toBe('vigil@example.com');
    expect(mail.to).toEqual(['oncall@example.com']);
    expect(mail.raw).toMatch(/Subject: \[Vigil high\] Incident opened: Sniffer on CC-0142/);
  });

  it('acknowledges the PagerDuty alert when the incident leaves new, and resolves it on close', async () => {
    const created = await api<{ id: string }>(collector.url, 'POST', '/api/v1/incidents', {
      title: 'Cloud upload on CC-0007',
      severity: 'medium',
    });
    const id = created.body.id;
    await waitFor('trigger', () => (bodies('/pd', id).length === 1 ? true : undefined));
    expect(
      (await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, { status: 'investigating' })).status,
    ).toBe(200);
    await waitFor('acknowledge', () => (bodies('/pd', id).length === 2 ? true : undefined));
    // Moving on from investigating is not a second acknowledgement.
    await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, { status: 'contained' });
    await api(collector.url, 'PATCH', `/api/v1/incidents/${id}`, {
      status: 'closed',
      resolution: 'no_breach',
    });
    await waitFor('resolve', () => (bodies('/pd', id).length === 3 ? true : undefined));
    expect(bodies('/pd', id).map((b) => b.event_action)).toEqual(['trigger', 'acknowledge', 'resolve']);
    expect(bodies('/pd', id).every((b) => b.dedup_key === id)).toBe(true);
    expect(bodies('/pd', id)[1]).toEqual({
      routing_key: ROUTING_KEY,
      event_action: 'acknowledge',
      dedup_key: id,
    });
    const slack = await waitFor('slack acknowledged', () =>
      bodies('/slack', id).find((b) => String(b.text).startsWith('Incident acknowledged')),
    );
    expect(
      slack.blocks.find((b: { type: string; fields?: unknown }) => b.type === 'section' && b.fields)
        ?.fields[1].text,
    ).toContain('investigating');
  });
});

describe.each(engines)('outbox guarantees on %s', (engine) => {
  let collector: RunningCollector;
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    // The worker polls once an hour and nothing here signals it: the tests drive deliveries.
    collector = await startCollector(engine, {
      notifyPollMs: 3_600_000,
      notifyTimeoutMs: 2000,
      escalationPollMs: 3_600_000,
      overduePollMs: 3_600_000,
    });
  }, 180_000);
  afterAll(async () => {
    await collector?.close();
    await smtp?.close();
  });

  const db = () => collector.testDb.db;
  const emailChannel = (name: string) => ({
    name,
    type: 'email' as const,
    settings: {
      type: 'email' as const,
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true },
      from: 'vigil@example.com',
      to: ['oncall@example.com'],
    },
    events: ['incident.opened' as const],
    enabled: true,
  });

  it('refuses a loopback SMTP host when the channel is saved and when sending', async () => {
    const saved = await api<{ error: { code: string } }>(collector.url, 'POST', '/api/v1/notify/channels', {
      name: 'internal-relay',
      type: 'email',
      smtp: { host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true },
      from: 'vigil@example.com',
      to: ['oncall@example.com'],
    });
    expect(saved.status).toBe(400);
    expect(saved.body.error.code).toBe('channel_target_blocked');

    // A channel stored before the guard (or by hand) is still refused at send time.
    const channel = (await insertChannel(db(), emailChannel('legacy-relay')))!;
    const [outboxId] = await db().transaction((tx) =>
      insertOutboxRows(tx, {
        kind: 'incident.opened',
        incidentId: null,
        payload: () => ({
          kind: 'incident.opened',
          occurredAt: new Date().toISOString(),
          incident: {
            id: 'x',
            title: 'x',
            severity: 'high',
            status: 'new',
            url: 'https://v/',
            summary: '',
            nextDeadline: null,
          },
        }),
      }),
    );
    const worker = new DeliveryWorker(db(), {
      pollMs: 3_600_000,
      batchSize: 10,
      timeoutMs: 2000,
      leaseMs: 5000,
      allowPrivateTargets: false,
      log: collector.app.log,
    });
    expect(await worker.runOnce()).toBe(1);
    const { rows } = await db().query<{ status: string; outcome: string; error: string }>(
      `SELECT o.status, a.outcome, a.error FROM notify_outbox o JOIN notify_attempts a ON a.outbox_id = o.id
        WHERE o.id = $1`,
      [outboxId],
    );
    expect(rows).toEqual([
      { status: 'dead', outcome: 'failed', error: expect.stringMatching(/^blocked_target/) },
    ]);
    expect(smtp.received).toHaveLength(0);
    await db().query('UPDATE notify_channels SET enabled = false WHERE id = $1', [channel.id]);
  });

  it('marks an attempt failed with "lease expired" when its row is claimed again', async () => {
    const channel = (await insertChannel(db(), emailChannel('lease')))!;
    const [outboxId] = await db().transaction((tx) =>
      insertOutboxRows(tx, { kind: 'incident.opened', incidentId: null, payload: () => ({}) }),
    );
    // A process claims the row with a 1 ms lease and dies; another claims it after the lease.
    const first = await claimDueDeliveries(db(), 10, 1);
    expect(first.map((d) => d.id)).toEqual([outboxId]);
    await new Promise((r) => setTimeout(r, 20));
    const second = await claimDueDeliveries(db(), 10, 60_000);
    expect(second.map((d) => [d.id, d.attempt])).toEqual([[outboxId, 2]]);
    const { rows } = await db().query<{
      attempt: number;
      outcome: string;
      error: string | null;
      done: boolean;
    }>(
      `SELECT attempt, outcome, error, finished_at IS NOT NULL AS done FROM notify_attempts
        WHERE outbox_id = $1 ORDER BY attempt`,
      [outboxId],
    );
    expect(rows).toEqual([
      { attempt: 1, outcome: 'failed', error: 'lease expired', done: true },
      { attempt: 2, outcome: 'in_flight', error: null, done: false },
    ]);
    await db().query('UPDATE notify_channels SET enabled = false WHERE id = $1', [channel.id]);
  });

  it('rolls the outbox rows back with an incident change that fails after writing them', async () => {
    const channel = (await insertChannel(db(), emailChannel('rollback')))!;
    const title = `rollback-${Date.now()}`;
    let writtenInside = 0;
    await expect(
      db().transaction(async (tx) => {
        const incident = await openIncident(
          tx,
          { publicUrl: 'https://vigil.test' },
          { title, severity: 'high' },
          'system:test',
        );
        const { rows } = await tx.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM notify_outbox WHERE incident_id = $1',
          [incident!.id],
        );
        writtenInside = rows[0]!.n;
        throw new Error('the change failed after its triggers were written');
      }),
    ).rejects.toThrow(/failed after/);
    expect(writtenInside).toBe(1);
    const { rows } = await db().query<{ incidents: number; outbox: number }>(
      `SELECT (SELECT count(*)::int FROM incidents WHERE title = $1) AS incidents,
              (SELECT count(*)::int FROM notify_outbox WHERE channel_id = $2) AS outbox`,
      [title, channel.id],
    );
    expect(rows[0]).toEqual({ incidents: 0, outbox: 0 });
  });
});
