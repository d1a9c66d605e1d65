import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, eventually } from '../incidents/support.js';
import { quickDelivery } from './fixtures.js';
import { type ReceivedRequest, startReceiver } from './receiver.js';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;

interface Channel {
  id: string;
  enabled: boolean;
  disabledReason: string | null;
  settings: Record<string, unknown>;
  generatedSecret?: string;
}

interface OutboxRow {
  id: string;
  status: string;
  attempts: number;
  kind: string;
  last_error: string | null;
}

describe.each(engines)('trigger outbox on %s', (engine) => {
  let collector: RunningCollector;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const seen = new Map<string, number>();

  beforeAll(async () => {
    receiver = await startReceiver((req: ReceivedRequest, res) => {
      const id = String(req.headers['webhook-id'] ?? '');
      const times = (seen.get(`${req.path}|${id}`) ?? 0) + 1;
      seen.set(`${req.path}|${id}`, times);
      if (req.path === '/retry' && times === 1) return res.writeHead(503, { 'retry-after': '1' }).end();
      if (req.path === '/gone') return res.writeHead(410).end();
      if (req.path === '/fail') return res.writeHead(500).end();
      res.writeHead(204).end();
    });
    collector = await startCollector(engine, { ...quickDelivery, notifyRetryDelaysMs: [0, 100, 100] });
    // PGlite starts slowly on a loaded machine.
  }, 180_000);
  afterAll(async () => {
    await collector?.close();
    await receiver?.close();
  });

  const addChannel = async (path: string, extra: Record<string, unknown> = {}) => {
    const res = await api<Channel>(collector.url, 'POST', '/api/v1/notify/channels', {
      name: `hook${path}-${Math.random().toString(36).slice(2, 8)}`,
      type: 'webhook',
      url: receiver.url(path),
      secret: SECRET,
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body;
  };
  const disable = (id: string) =>
    api(collector.url, 'PATCH', `/api/v1/notify/channels/${id}`, { enabled: false });
  const openIncident = async (title = 'Sniffer on CC-0142') => {
    const res = await api<{ id: string }>(collector.url, 'POST', '/api/v1/incidents', {
      title,
      severity: 'high',
    });
    expect(res.status).toBe(201);
    return res.body.id;
  };
  const outboxOf = async (channelId: string) =>
    (
      await collector.testDb.db.query<OutboxRow>(
        'SELECT id::text AS id, status, attempts, kind, last_error FROM notify_outbox WHERE channel_id = $1 ORDER BY created_at',
        [channelId],
      )
    ).rows;
  const settled = (channelId: string, count = 1) =>
    eventually('outbox settled', async () => {
      const rows = await outboxOf(channelId);
      return rows.length >= count && rows.every((r) => r.status !== 'pending') ? rows : undefined;
    });

  it('writes the trigger in the incident transaction and delivers it signed, verified with standardwebhooks', async () => {
    const channel = await addChannel('/ok');
    expect(JSON.stringify(channel)).not.toContain(SECRET.slice(6, 30));
    const incidentId = await openIncident();
    const [row] = await settled(channel.id);
    expect(row).toMatchObject({ status: 'delivered', attempts: 1, kind: 'incident.opened' });
    const request = receiver.received.find((r) => r.headers['webhook-id'] === row!.id)!;
    expect(request.path).toBe('/ok');
    const payload = new Webhook(SECRET).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    }) as { type: string; data: { triggerId: string; incident: { id: string; title: string; url: string } } };
    expect(payload.type).toBe('incident.opened');
    expect(payload.data.triggerId).toBe(row!.id);
    expect(payload.data.incident).toMatchObject({ id: incidentId, title: 'Sniffer on CC-0142' });
    expect(() =>
      new Webhook(`whsec_${Buffer.alloc(32, 8).toString('base64')}`).verify(
        request.body,
        request.headers as never,
      ),
    ).toThrow();

    const detail = await api<{
      timeline: Array<{ kind: string }>;
      deliveries: Array<{
        id: string;
        status: string;
        attemptLog: Array<{ outcome: string; responseStatus: number }>;
      }>;
    }>(collector.url, 'GET', `/api/v1/incidents/${incidentId}`);
    expect(detail.body.timeline.map((e) => e.kind)).toEqual([
      'incident.opened',
      'trigger.queued',
      'trigger.delivered',
    ]);
    expect(detail.body.deliveries[0]).toMatchObject({ id: row!.id, status: 'delivered' });
    expect(detail.body.deliveries[0]!.attemptLog).toMatchObject([{ outcome: 'ok', responseStatus: 204 }]);

    // Raising the severity and closing each send their own trigger; lowering it does not.
    await api(collector.url, 'PATCH', `/api/v1/incidents/${incidentId}`, { severity: 'medium' });
    await api(collector.url, 'PATCH', `/api/v1/incidents/${incidentId}`, { severity: 'critical' });
    await api(collector.url, 'PATCH', `/api/v1/incidents/${incidentId}`, {
      status: 'closed',
      resolution: 'duplicate',
    });
    const rows = await settled(channel.id, 3);
    expect(rows.map((r) => r.kind)).toEqual([
      'incident.opened',
      'incident.severity_raised',
      'incident.closed',
    ]);
    await disable(channel.id);
  });

  it('never returns or stores in the API a secret in full', async () => {
    const channel = await addChannel('/ok', { secret: undefined });
    expect(channel.generatedSecret).toMatch(/^whsec_/);
    const list = await api<{ channels: Channel[] }>(collector.url, 'GET', '/api/v1/notify/channels');
    const text = JSON.stringify(list.body);
    expect(text).not.toContain(channel.generatedSecret!.slice(6));
    expect(text).not.toContain(SECRET.slice(6));
    expect(list.body.channels.find((c) => c.id === channel.id)?.settings.secret).toMatch(/^whsec_…/);
    const bad = await api<{ error: { code: string } }>(collector.url, 'POST', '/api/v1/notify/channels', {
      name: 'bad-pd',
      type: 'pagerduty',
      routingKey: 'short',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('channel_config_invalid');
    await disable(channel.id);
  });

  it('retries a 503 after the Retry-After it asked for, then delivers with the same webhook-id', async () => {
    const channel = await addChannel('/retry');
    await openIncident('retry');
    const [row] = await settled(channel.id);
    expect(row).toMatchObject({ status: 'delivered', attempts: 2 });
    const hits = receiver.received.filter((r) => r.headers['webhook-id'] === row!.id);
    expect(hits).toHaveLength(2);
    const attempts = (
      await collector.testDb.db.query<{ started_at: Date; response_status: number }>(
        'SELECT started_at, response_status FROM notify_attempts WHERE outbox_id = $1 ORDER BY attempt',
        [row!.id],
      )
    ).rows;
    expect(attempts.map((a) => a.response_status)).toEqual([503, 204]);
    // The schedule says 100 ms; the receiver asked for 1 s and got it.
    expect(
      new Date(attempts[1]!.started_at).getTime() - new Date(attempts[0]!.started_at).getTime(),
    ).toBeGreaterThanOrEqual(950);
    await disable(channel.id);
  });

  it('disables a channel whose receiver answers 410 Gone', async () => {
    const channel = await addChannel('/gone');
    await openIncident('gone');
    const [row] = await settled(channel.id);
    expect(row).toMatchObject({ status: 'cancelled', attempts: 1 });
    const list = await api<{ channels: Channel[] }>(collector.url, 'GET', '/api/v1/notify/channels');
    const after = list.body.channels.find((c) => c.id === channel.id)!;
    expect(after.enabled).toBe(false);
    expect(after.disabledReason).toMatch(/410/);
    await openIncident('after gone');
    expect(await outboxOf(channel.id)).toHaveLength(1);
  });

  it('dead-letters after the last attempt, lists it, and tells the other channels', async () => {
    const failing = await addChannel('/fail', { events: ['incident.opened'] });
    const watcher = await addChannel('/ok', { events: ['delivery.dead_letter'] });
    const incidentId = await openIncident('doomed');
    const [row] = await settled(failing.id);
    expect(row).toMatchObject({ status: 'dead', attempts: 3 });
    expect(row!.last_error).toMatch(/HTTP 500/);
    const [notice] = await settled(watcher.id);
    expect(notice).toMatchObject({ status: 'delivered', kind: 'delivery.dead_letter' });
    const body = JSON.parse(receiver.received.find((r) => r.headers['webhook-id'] === notice!.id)!.body) as {
      type: string;
      data: { incident: { id: string; summary: string } };
    };
    expect(body.type).toBe('delivery.dead_letter');
    expect(body.data.incident.id).toBe(incidentId);
    const dead = await api<{ deadLetters: Array<{ id: string; attempts: number; attemptLog: unknown[] }> }>(
      collector.url,
      'GET',
      '/api/v1/notify/dead-letters',
    );
    const listed = dead.body.deadLetters.find((d) => d.id === row!.id);
    expect(listed?.attemptLog).toHaveLength(3);
    const detail = await api<{ timeline: Array<{ kind: string }> }>(
      collector.url,
      'GET',
      `/api/v1/incidents/${incidentId}`,
    );
    expect(detail.body.timeline.map((e) => e.kind)).toContain('trigger.dead_letter');
    await disable(failing.id);
    await disable(watcher.id);
  });

  it('announces a task that turned overdue once', async () => {
    const channel = await addChannel('/ok', { events: ['incident.task_overdue'] });
    const incidentId = await openIncident('overdue');
    await api(collector.url, 'PATCH', `/api/v1/incidents/${incidentId}/tasks/contain.isolate-workstation`, {
      dueAt: new Date(Date.now() - 60_000).toISOString(),
    });
    // The job's interval is an hour in this suite; run its pass the way the plugin does.
    const { claimOverdueTasks } = await import('../../../collector/incidents/repository.js');
    const { announceOverdue } = await import('../../../collector/incidents/service.js');
    const runPass = () =>
      collector.testDb.db.transaction(async (tx) => {
        const tasks = await claimOverdueTasks(tx, 50);
        for (const task of tasks) await announceOverdue(tx, { publicUrl: 'http://vigil.test' }, task);
        return tasks;
      });
    const first = await runPass();
    expect(first.map((t) => t.key)).toEqual(['contain.isolate-workstation']);
    expect(await runPass()).toEqual([]);
    collector.app.outboxSignal.written();
    const [row] = await settled(channel.id);
    expect(row).toMatchObject({ status: 'delivered', kind: 'incident.task_overdue' });
    const body = JSON.parse(receiver.received.find((r) => r.headers['webhook-id'] === row!.id)!.body) as {
      data: { incident: { nextDeadline: { title: string } } };
    };
    expect(body.data.incident.nextDeadline.title).toBe('Isolate the affected workstation');
    const detail = await api<{ tasks: Array<{ key: string; overdue: boolean }> }>(
      collector.url,
      'GET',
      `/api/v1/incidents/${incidentId}`,
    );
    expect(detail.body.tasks.find((t) => t.key === 'contain.isolate-workstation')?.overdue).toBe(true);
    await disable(channel.id);
  });
});
