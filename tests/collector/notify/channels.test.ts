import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildPagerDutyRequest,
  buildRequest,
  buildSlackRequest,
  buildTeamsRequest,
  buildWebhookRequest,
  ChannelConfigError,
  PAGERDUTY_EVENTS_URL,
  pagerDutyAction,
} from '../../../collector/notify/channels.js';
import { deliver } from '../../../collector/notify/http.js';
import { generateWebhookSecret } from '../../../collector/notify/signing.js';
import { sampleTrigger } from './fixtures.js';
import { startReceiver } from './receiver.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

const ROUTING_KEY = 'R0123456789abcdefABCDEF012345678';

describe('generic webhook', () => {
  it('delivers a signed Standard Webhooks payload that the receiver verifies', async () => {
    const secret = generateWebhookSecret();
    const r = await startReceiver((_req, res) => res.writeHead(200).end());
    closers.push(r.close);
    const trigger = sampleTrigger();
    const request = buildWebhookRequest({ type: 'webhook', url: r.url('/vigil'), secret }, trigger);
    const result = await deliver(request, { timeoutMs: 2000, allowPrivateTargets: true });
    expect(result.ok).toBe(true);

    const got = r.received[0]!;
    expect(got.headers['webhook-id']).toBe(trigger.id);
    expect(got.headers['content-type']).toBe('application/json');
    const payload = new Webhook(secret).verify(got.body, {
      'webhook-id': String(got.headers['webhook-id']),
      'webhook-timestamp': String(got.headers['webhook-timestamp']),
      'webhook-signature': String(got.headers['webhook-signature']),
    }) as {
      type: string;
      timestamp: string;
      data: { incident: { id: string; nextDeadline: { dueAt: string } } };
    };
    expect(payload.type).toBe('incident.opened');
    expect(payload.timestamp).toBe('2026-05-01T08:00:00.000Z');
    expect(payload.data.incident.id).toBe('inc_42');
    expect(payload.data.incident.nextDeadline.dueAt).toBe('2026-05-04T08:00:00.000Z');
  });

  it('signs with the send time so that late retries still verify', () => {
    const secret = generateWebhookSecret();
    const sentAt = new Date();
    const request = buildWebhookRequest(
      { type: 'webhook', url: 'https://example.com/h', secret },
      sampleTrigger(),
      sentAt,
    );
    expect(request.headers['webhook-timestamp']).toBe(String(Math.floor(sentAt.getTime() / 1000)));
  });
});

describe('Slack', () => {
  it('builds blocks with escaped text, fields, and a link button', () => {
    const request = buildSlackRequest(
      { type: 'slack', webhookUrl: 'https://hooks.slack.com/services/T0/B0/X' },
      sampleTrigger(),
    );
    expect(request.url).toBe('https://hooks.slack.com/services/T0/B0/X');
    const body = JSON.parse(request.body);
    expect(body.text).toBe('Incident opened: Packet sniffer on workstation CC-0142');
    expect(body.blocks[0]).toEqual({
      type: 'header',
      text: {
        type: 'plain_text',
        text: 'Incident opened: Packet sniffer on workstation CC-0142',
        emoji: false,
      },
    });
    expect(body.blocks[1].text.text).toContain('&lt;b&gt;unencrypted&lt;/b&gt; &amp; exfiltrated');
    expect(body.blocks[2].fields.map((f: { text: string }) => f.text)).toEqual([
      '*Severity*\nhigh',
      '*Status*\nopen',
      '*Next deadline*\nGDPR Art. 33 notice — due 2026-05-04T08:00:00.000Z',
    ]);
    expect(body.blocks[3].elements[0].url).toBe('https://vigil.example.com/incidents/inc_42');
  });

  it('truncates long titles to the 150-character header limit', () => {
    const trigger = sampleTrigger();
    trigger.incident.title = 'x'.repeat(400);
    const body = JSON.parse(
      buildSlackRequest({ type: 'slack', webhookUrl: 'https://hooks.slack.com/x' }, trigger).body,
    );
    expect(body.blocks[0].text.text).toHaveLength(150);
  });
});

describe('Microsoft Teams', () => {
  it('wraps an Adaptive Card in a message attachment', () => {
    const request = buildTeamsRequest(
      { type: 'teams', webhookUrl: 'https://example.logic.azure.com/wf?sig=s' },
      sampleTrigger(),
    );
    const body = JSON.parse(request.body);
    expect(body.type).toBe('message');
    expect(body.attachments).toHaveLength(1);
    const attachment = body.attachments[0];
    expect(attachment.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(attachment.content.type).toBe('AdaptiveCard');
    expect(attachment.content.version).toBe('1.4');
    expect(attachment.content.body[0].color).toBe('Attention');
    const facts = attachment.content.body.find((b: { type: string }) => b.type === 'FactSet').facts;
    expect(facts).toContainEqual({ title: 'Severity', value: 'high' });
    expect(attachment.content.actions[0]).toEqual({
      type: 'Action.OpenUrl',
      title: 'Open incident',
      url: 'https://vigil.example.com/incidents/inc_42',
    });
  });
});

describe('PagerDuty Events API v2', () => {
  it('triggers with dedup_key = incident id, mapped severity and source', () => {
    const request = buildPagerDutyRequest({ type: 'pagerduty', routingKey: ROUTING_KEY }, sampleTrigger());
    expect(request.url).toBe(PAGERDUTY_EVENTS_URL);
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'inc_42',
      payload: {
        summary: 'Incident opened: Packet sniffer on workstation CC-0142',
        source: 'vigil-collector',
        severity: 'error',
        timestamp: '2026-05-01T08:00:00.000Z',
      },
      links: [{ href: 'https://vigil.example.com/incidents/inc_42', text: 'Open incident in Vigil' }],
    });
  });

  it('maps every severity', () => {
    const severityOf = (severity: 'informational' | 'low' | 'medium' | 'high' | 'critical') => {
      const trigger = sampleTrigger();
      trigger.incident.severity = severity;
      return JSON.parse(buildPagerDutyRequest({ type: 'pagerduty', routingKey: ROUTING_KEY }, trigger).body)
        .payload.severity;
    };
    expect(['informational', 'low', 'medium', 'high', 'critical'].map((s) => severityOf(s as never))).toEqual(
      ['info', 'info', 'warning', 'error', 'critical'],
    );
  });

  it('resolves on incident.closed and acknowledges when the incident leaves new', () => {
    const closed = sampleTrigger({ kind: 'incident.closed' });
    const body = JSON.parse(
      buildPagerDutyRequest({ type: 'pagerduty', routingKey: ROUTING_KEY }, closed).body,
    );
    expect(body).toEqual({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: 'inc_42' });
    // The status an incident really has after new → investigating (incidentStatuses).
    const acked = sampleTrigger({ kind: 'incident.acknowledged' });
    acked.incident.status = 'investigating';
    expect(
      JSON.parse(buildPagerDutyRequest({ type: 'pagerduty', routingKey: ROUTING_KEY }, acked).body),
    ).toEqual({ routing_key: ROUTING_KEY, event_action: 'acknowledge', dedup_key: 'inc_42' });
    const overdue = sampleTrigger({ kind: 'incident.task_overdue' });
    overdue.incident.status = 'investigating';
    expect(pagerDutyAction(overdue)).toBe('trigger');
    const raised = sampleTrigger({ kind: 'incident.severity_raised' });
    raised.incident.status = 'contained';
    expect(pagerDutyAction(raised)).toBe('trigger');
  });

  it('rejects a malformed routing key', () => {
    expect(() => buildPagerDutyRequest({ type: 'pagerduty', routingKey: 'short' }, sampleTrigger())).toThrow(
      ChannelConfigError,
    );
  });
});

describe('buildRequest', () => {
  it('dispatches by channel type and validates URLs', () => {
    const slack = buildRequest({ type: 'slack', webhookUrl: 'https://hooks.slack.com/x' }, sampleTrigger());
    expect(JSON.parse(slack.body).blocks).toBeDefined();
    expect(() => buildRequest({ type: 'teams', webhookUrl: 'ftp://example.com' }, sampleTrigger())).toThrow(
      /http or https/,
    );
    expect(() => buildRequest({ type: 'slack', webhookUrl: 'nope' }, sampleTrigger())).toThrow(
      ChannelConfigError,
    );
  });
});
