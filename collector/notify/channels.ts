import { signWebhook } from './signing.js';
import { type OutgoingRequest, type Severity, TRIGGER_HEADLINE, type Trigger } from './types.js';

export interface WebhookChannel {
  type: 'webhook';
  url: string;
  /** `whsec_…` secret shared with the receiver. */
  secret: string;
}

export interface SlackChannel {
  type: 'slack';
  /** Incoming webhook URL (the path is the credential). */
  webhookUrl: string;
}

export interface TeamsChannel {
  type: 'teams';
  /** Workflows "When a Teams webhook request is received" URL (the `sig` query is the credential). */
  webhookUrl: string;
}

export interface PagerDutyChannel {
  type: 'pagerduty';
  /** Events API v2 integration (routing) key. */
  routingKey: string;
  /** `payload.source`; defaults to "vigil-collector". */
  source?: string;
  /** Override for EU service region or tests; defaults to the US endpoint. */
  eventsUrl?: string;
}

export type HttpChannel = WebhookChannel | SlackChannel | TeamsChannel | PagerDutyChannel;

export class ChannelConfigError extends Error {
  readonly code = 'CHANNEL_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ChannelConfigError';
  }
}

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
const USER_AGENT = 'Vigil-Notify/1';
const JSON_HEADERS = { 'content-type': 'application/json', 'user-agent': USER_AGENT } as const;

function requireHttpUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ChannelConfigError(`${name} is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ChannelConfigError(`${name} must use http or https`);
  }
  return url.toString();
}

function deadlineLine(trigger: Trigger): string | undefined {
  const deadline = trigger.incident.nextDeadline;
  return deadline ? `${deadline.title} — due ${deadline.dueAt.toISOString()}` : undefined;
}

/** The JSON document sent to generic webhooks: Standard Webhooks `{ type, timestamp, data }`. */
export function webhookPayload(trigger: Trigger): Record<string, unknown> {
  const { incident } = trigger;
  return {
    type: trigger.kind,
    timestamp: trigger.occurredAt.toISOString(),
    data: {
      triggerId: trigger.id,
      incident: {
        id: incident.id,
        title: incident.title,
        severity: incident.severity,
        status: incident.status,
        url: incident.url,
        summary: incident.summary,
        nextDeadline: incident.nextDeadline
          ? { title: incident.nextDeadline.title, dueAt: incident.nextDeadline.dueAt.toISOString() }
          : null,
      },
    },
  };
}

/** Generic webhook, signed per Standard Webhooks with the send time (not occurredAt) so retries verify. */
export function buildWebhookRequest(
  channel: WebhookChannel,
  trigger: Trigger,
  sentAt: Date = new Date(),
): OutgoingRequest {
  const url = requireHttpUrl('webhook url', channel.url);
  const body = JSON.stringify(webhookPayload(trigger));
  return {
    url,
    method: 'POST',
    headers: { ...JSON_HEADERS, ...signWebhook(channel.secret, trigger.id, sentAt, body) },
    body,
  };
}

/** Slack mrkdwn control characters. */
export function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function buildSlackRequest(channel: SlackChannel, trigger: Trigger): OutgoingRequest {
  const url = requireHttpUrl('Slack webhook URL', channel.webhookUrl);
  const { incident } = trigger;
  const headline = `${TRIGGER_HEADLINE[trigger.kind]}: ${incident.title}`;
  const fields = [
    { type: 'mrkdwn', text: `*Severity*\n${escapeSlack(incident.severity)}` },
    { type: 'mrkdwn', text: `*Status*\n${escapeSlack(incident.status)}` },
  ];
  const deadline = deadlineLine(trigger);
  if (deadline) fields.push({ type: 'mrkdwn', text: `*Next deadline*\n${escapeSlack(deadline)}` });
  const body = {
    // Fallback for notifications and clients without blocks.
    text: escapeSlack(headline),
    blocks: [
      // Slack caps header text at 150 characters and section text at 3000.
      { type: 'header', text: { type: 'plain_text', text: truncate(headline, 150), emoji: false } },
      { type: 'section', text: { type: 'mrkdwn', text: truncate(escapeSlack(incident.summary), 3000) } },
      { type: 'section', fields },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Open incident' },
            url: incident.url,
            action_id: 'open_incident',
          },
        ],
      },
      {
        type: 'context',
        elements: [
          { type: 'mrkdwn', text: `${escapeSlack(incident.id)} · ${trigger.occurredAt.toISOString()}` },
        ],
      },
    ],
  };
  return { url, method: 'POST', headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
}

const TEAMS_COLOR: Record<Severity, string> = {
  informational: 'Default',
  low: 'Good',
  medium: 'Warning',
  high: 'Attention',
  critical: 'Attention',
};

export function buildTeamsRequest(channel: TeamsChannel, trigger: Trigger): OutgoingRequest {
  const url = requireHttpUrl('Teams webhook URL', channel.webhookUrl);
  const { incident } = trigger;
  const facts = [
    { title: 'Severity', value: incident.severity },
    { title: 'Status', value: incident.status },
    { title: 'Incident', value: incident.id },
    { title: 'Occurred', value: trigger.occurredAt.toISOString() },
  ];
  const deadline = deadlineLine(trigger);
  if (deadline) facts.push({ title: 'Next deadline', value: deadline });
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [
      {
        type: 'TextBlock',
        text: TRIGGER_HEADLINE[trigger.kind],
        weight: 'Bolder',
        size: 'Medium',
        color: TEAMS_COLOR[incident.severity],
      },
      { type: 'TextBlock', text: incident.title, weight: 'Bolder', wrap: true },
      { type: 'TextBlock', text: incident.summary, wrap: true },
      { type: 'FactSet', facts },
    ],
    actions: [{ type: 'Action.OpenUrl', title: 'Open incident', url: incident.url }],
  };
  const body = {
    type: 'message',
    attachments: [
      { contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card },
    ],
  };
  return { url, method: 'POST', headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
}

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';
export type PagerDutyAction = 'trigger' | 'acknowledge' | 'resolve';

export const PAGERDUTY_SEVERITY: Record<Severity, PagerDutySeverity> = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'info',
  informational: 'info',
};

/**
 * Closing resolves the PagerDuty alert; an incident leaving `new` (incident.acknowledged) acknowledges
 * it, so the pager stops escalating; everything else (opened, severity raised, overdue) triggers.
 */
export function pagerDutyAction(trigger: Trigger): PagerDutyAction {
  if (trigger.kind === 'incident.closed') return 'resolve';
  if (trigger.kind === 'incident.acknowledged') return 'acknowledge';
  return 'trigger';
}

export function buildPagerDutyRequest(channel: PagerDutyChannel, trigger: Trigger): OutgoingRequest {
  if (!channel.routingKey || !/^[A-Za-z0-9]{32}$/.test(channel.routingKey)) {
    throw new ChannelConfigError('PagerDuty routing key must be 32 alphanumeric characters');
  }
  const url = requireHttpUrl('PagerDuty events URL', channel.eventsUrl ?? PAGERDUTY_EVENTS_URL);
  const { incident } = trigger;
  const action = pagerDutyAction(trigger);
  const body: Record<string, unknown> = {
    routing_key: channel.routingKey,
    event_action: action,
    // One PagerDuty alert per Vigil incident, so later events update or resolve it.
    dedup_key: incident.id,
  };
  if (action === 'trigger') {
    body.payload = {
      summary: truncate(`${TRIGGER_HEADLINE[trigger.kind]}: ${incident.title}`, 1024),
      source: channel.source ?? 'vigil-collector',
      severity: PAGERDUTY_SEVERITY[incident.severity],
      timestamp: trigger.occurredAt.toISOString(),
      component: 'incidents',
      class: trigger.kind,
      custom_details: {
        summary: incident.summary,
        status: incident.status,
        nextDeadline: deadlineLine(trigger) ?? null,
      },
    };
    body.links = [{ href: incident.url, text: 'Open incident in Vigil' }];
    body.client = 'Vigil';
    body.client_url = incident.url;
  }
  return { url, method: 'POST', headers: { ...JSON_HEADERS }, body: JSON.stringify(body) };
}

/** Builds the request for any HTTP channel; `sentAt` only matters for signed webhooks. */
export function buildRequest(
  channel: HttpChannel,
  trigger: Trigger,
  sentAt: Date = new Date(),
): OutgoingRequest {
  switch (channel.type) {
    case 'webhook':
      return buildWebhookRequest(channel, trigger, sentAt);
    case 'slack':
      return buildSlackRequest(channel, trigger);
    case 'teams':
      return buildTeamsRequest(channel, trigger);
    case 'pagerduty':
      return buildPagerDutyRequest(channel, trigger);
    default:
      throw new ChannelConfigError(`unknown channel type ${(channel as { type: unknown }).type}`);
  }
}
