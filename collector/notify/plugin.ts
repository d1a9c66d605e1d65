// Notification channels (admin API), dead letters, and the delivery worker that drains the outbox.
// Secrets (webhook secret, Slack/Teams URLs, PagerDuty key, SMTP password) are stored and never
// returned or logged in full.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import { actorOf, recordAudit } from '../audit/repository.js';
import { notifyAlerts } from '../cluster/alerts-channel.js';
import type { CollectorConfig } from '../config.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import { buildRequest } from './channels.js';
import { assertPublicSmtpHost, buildEmail } from './email.js';
import { BlockedTargetError, redactUrl } from './http.js';
import {
  type ChannelRecord,
  type ChannelSettings,
  channelTypes,
  deadLetters,
  deleteChannel,
  getChannel,
  insertChannel,
  listChannels,
  updateChannel,
} from './repository.js';
import { generateWebhookSecret } from './signing.js';
import { TRIGGER_KINDS, type Trigger, type TriggerKind } from './types.js';
import { DeliveryWorker } from './worker.js';

const Uuid = Type.String({ format: 'uuid' });
const SmtpSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 255 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    secure: Type.Boolean(),
    requireTls: Type.Optional(Type.Boolean()),
    ignoreTls: Type.Optional(Type.Boolean()),
    auth: Type.Optional(
      Type.Object({ user: Type.String({ maxLength: 320 }), pass: Type.String({ maxLength: 1024 }) }),
    ),
  },
  { additionalProperties: false },
);
const SettingsFields = {
  url: Type.Optional(Type.String({ maxLength: 2048 })),
  secret: Type.Optional(Type.String({ maxLength: 200 })),
  webhookUrl: Type.Optional(Type.String({ maxLength: 2048 })),
  routingKey: Type.Optional(Type.String({ maxLength: 64 })),
  source: Type.Optional(Type.String({ maxLength: 255 })),
  eventsUrl: Type.Optional(Type.String({ maxLength: 2048 })),
  smtp: Type.Optional(SmtpSchema),
  from: Type.Optional(Type.String({ maxLength: 320 })),
  to: Type.Optional(Type.Array(Type.String({ maxLength: 320 }), { minItems: 1, maxItems: 50 })),
};
const Events = Type.Array(Type.Enum([...TRIGGER_KINDS]), { uniqueItems: true });
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    type: Type.Enum(channelTypes),
    events: Type.Optional(Events),
    enabled: Type.Optional(Type.Boolean()),
    ...SettingsFields,
  },
  { additionalProperties: false },
);
const PatchBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    events: Type.Optional(Events),
    enabled: Type.Optional(Type.Boolean()),
    ...SettingsFields,
  },
  { additionalProperties: false },
);
type SettingsInput = Partial<Static<typeof CreateBody>>;

const need = (value: string | undefined, what: string): string => {
  if (!value)
    throw new BadRequestError(
      `${what} is required for this channel type`,
      undefined,
      'channel_config_invalid',
    );
  return value;
};

/** Settings of a channel type from the request fields; unknown fields for the type are refused. */
function settingsFrom(
  type: ChannelSettings['type'],
  body: SettingsInput,
  previous?: ChannelSettings,
): ChannelSettings {
  const old = (previous ?? {}) as Partial<Record<string, unknown>>;
  const pick = <K extends keyof SettingsInput>(key: K) => (body[key] ?? old[key]) as SettingsInput[K];
  switch (type) {
    case 'webhook':
      return { type, url: need(pick('url'), 'url'), secret: pick('secret') ?? generateWebhookSecret() };
    case 'slack':
    case 'teams':
      return { type, webhookUrl: need(pick('webhookUrl'), 'webhookUrl') };
    case 'pagerduty': {
      const source = pick('source');
      const eventsUrl = pick('eventsUrl');
      return {
        type,
        routingKey: need(pick('routingKey'), 'routingKey'),
        ...(source && { source }),
        ...(eventsUrl && { eventsUrl }),
      };
    }
    case 'email': {
      const smtp = pick('smtp');
      const to = pick('to');
      if (!smtp || !to)
        throw new BadRequestError('smtp and to are required for email', undefined, 'channel_config_invalid');
      return { type, smtp, from: need(pick('from'), 'from'), to };
    }
  }
}

const sampleTrigger: Trigger = {
  id: 'check',
  kind: 'incident.opened',
  occurredAt: new Date(),
  incident: {
    id: 'check',
    title: 'check',
    severity: 'high',
    status: 'new',
    url: 'http://localhost/',
    summary: '',
  },
};

/**
 * Builds a request with the settings so a bad URL, secret or key is refused when saved, not when
 * sent; an SMTP host on a loopback/private address is refused unless private targets are allowed.
 */
async function checkSettings(settings: ChannelSettings, allowPrivateTargets: boolean): Promise<void> {
  try {
    if (settings.type === 'email') buildEmail(sampleTrigger, { from: settings.from, to: settings.to });
    else buildRequest(settings, sampleTrigger);
  } catch (err) {
    throw new BadRequestError((err as Error).message, undefined, 'channel_config_invalid');
  }
  if (settings.type === 'email' && !allowPrivateTargets) {
    try {
      await assertPublicSmtpHost(settings.smtp.host);
    } catch (err) {
      if (err instanceof BlockedTargetError)
        throw new BadRequestError(
          `SMTP host refused: ${err.message} (see --allow-private-targets)`,
          undefined,
          'channel_target_blocked',
        );
      throw new BadRequestError(
        `SMTP host ${settings.smtp.host} cannot be resolved: ${(err as Error).message}`,
        undefined,
        'channel_target_unresolvable',
      );
    }
  }
}

const maskSecret = (secret: string) => `${secret.startsWith('whsec_') ? 'whsec_' : ''}…${secret.slice(-4)}`;

/** The channel as the API shows it: credentials masked, URL paths (which carry tokens) redacted. */
export function publicChannel(channel: ChannelRecord) {
  const s = channel.settings;
  let settings: Record<string, unknown>;
  switch (s.type) {
    case 'webhook':
      settings = { url: redactUrl(s.url), secret: maskSecret(s.secret) };
      break;
    case 'slack':
    case 'teams':
      settings = { webhookUrl: redactUrl(s.webhookUrl) };
      break;
    case 'pagerduty':
      settings = {
        routingKey: maskSecret(s.routingKey),
        source: s.source ?? null,
        eventsUrl: s.eventsUrl ? redactUrl(s.eventsUrl) : null,
      };
      break;
    case 'email':
      settings = {
        smtp: { ...s.smtp, ...(s.smtp.auth && { auth: { user: s.smtp.auth.user, pass: '********' } }) },
        from: s.from,
        to: s.to,
      };
      break;
  }
  return {
    id: channel.id,
    name: channel.name,
    type: channel.type,
    events: channel.events,
    enabled: channel.enabled,
    disabledReason: channel.disabledReason,
    settings,
    createdAt: channel.createdAt.toISOString(),
    updatedAt: channel.updatedAt.toISOString(),
  };
}

const DEFAULT_EVENTS: TriggerKind[] = [...TRIGGER_KINDS];

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig }) => {
    const { config } = opts;
    const timeoutMs = config.notifyTimeoutMs ?? 10_000;
    const allowPrivateTargets = config.allowPrivateTargets ?? false;
    const worker = new DeliveryWorker(app.db, {
      pollMs: config.notifyPollMs ?? 500,
      batchSize: 20,
      timeoutMs,
      leaseMs: timeoutMs + 5_000,
      allowPrivateTargets,
      retryDelaysMs: config.notifyRetryDelaysMs,
      alertDedupWindowMs: config.alertDedupWindowMs,
      // A dead-letter alert refreshes live alert queues like an ingested one.
      onAlert: app.hasDecorator('cluster')
        ? (tx, { alertId, created }) =>
            notifyAlerts(app.cluster, tx, created ? [alertId] : [], created ? [] : [alertId])
        : undefined,
      log: app.log,
    });
    const unsubscribe = app.outboxSignal.subscribe(() => worker.wake());

    app.post(
      '/api/v1/notify/channels',
      {
        preHandler: app.requireRole('admin'),
        schema: { tags: ['notify'], summary: 'Add a notification channel', body: CreateBody },
      },
      async (request, reply) => {
        const body = request.body as Static<typeof CreateBody>;
        const settings = settingsFrom(body.type as ChannelSettings['type'], body);
        await checkSettings(settings, allowPrivateTargets);
        const channel = await app.db.transaction(async (tx) => {
          const inserted = await insertChannel(tx, {
            name: body.name,
            settings,
            events: (body.events as TriggerKind[] | undefined) ?? DEFAULT_EVENTS,
            enabled: body.enabled ?? true,
          });
          if (!inserted) throw new ConflictError(`a channel named ${body.name} exists`, 'channel_name_taken');
          await recordAudit(tx, actorOf(request), {
            action: 'notify_channel.create',
            targetType: 'notify_channel',
            targetId: inserted.id,
            after: publicChannel(inserted),
          });
          return inserted;
        });
        // A secret the collector generated is shown once, here, so the receiver can be configured.
        const generated =
          settings.type === 'webhook' && !body.secret ? { generatedSecret: settings.secret } : {};
        return reply.status(201).send({ ...publicChannel(channel), ...generated });
      },
    );

    app.get(
      '/api/v1/notify/channels',
      {
        preHandler: app.requireRole('admin'),
        schema: { tags: ['notify'], summary: 'List notification channels' },
      },
      async () => ({ channels: (await listChannels(app.db)).map(publicChannel) }),
    );

    app.patch(
      '/api/v1/notify/channels/:id',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['notify'],
          summary: 'Change a channel (re-enable one a receiver disabled with 410)',
          params: Type.Object({ id: Uuid }),
          body: PatchBody,
        },
      },
      async (request) => {
        const { id } = request.params as { id: string };
        const body = request.body as Static<typeof PatchBody>;
        const current = await getChannel(app.db, id);
        if (!current) throw new NotFoundError('channel', 'channel_not_found');
        const touchesSettings = Object.keys(SettingsFields).some((key) => key in body);
        const settings = touchesSettings ? settingsFrom(current.type, body, current.settings) : undefined;
        if (settings) await checkSettings(settings, allowPrivateTargets);
        const updated = await app.db.transaction(async (tx) => {
          const changed = await updateChannel(tx, id, {
            name: body.name,
            settings,
            events: body.events as TriggerKind[] | undefined,
            enabled: body.enabled,
          });
          if (!changed) throw new NotFoundError('channel', 'channel_not_found');
          await recordAudit(tx, actorOf(request), {
            action: 'notify_channel.update',
            targetType: 'notify_channel',
            targetId: id,
            before: publicChannel(current),
            after: publicChannel(changed),
          });
          return changed;
        });
        return publicChannel(updated);
      },
    );

    app.delete(
      '/api/v1/notify/channels/:id',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['notify'],
          summary: 'Remove a channel (its past deliveries stay on the incidents; pending ones are cancelled)',
          params: Type.Object({ id: Uuid }),
        },
      },
      async (request, reply) => {
        const { id } = request.params as { id: string };
        await app.db.transaction(async (tx) => {
          const current = await getChannel(tx, id);
          if (!current || !(await deleteChannel(tx, id)))
            throw new NotFoundError('channel', 'channel_not_found');
          await recordAudit(tx, actorOf(request), {
            action: 'notify_channel.delete',
            targetType: 'notify_channel',
            targetId: id,
            before: publicChannel(current),
          });
        });
        return reply.status(204).send();
      },
    );

    app.get(
      '/api/v1/notify/dead-letters',
      {
        preHandler: app.requireRole('incident_manager'),
        schema: {
          tags: ['notify'],
          summary: 'Triggers that could not be delivered after the last attempt',
          querystring: Type.Object({
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
          }),
        },
      },
      async (request) => {
        const { limit } = request.query as { limit?: number };
        return { deadLetters: await deadLetters(app.db, limit ?? 100) };
      },
    );

    app.addHook('onReady', async () => worker.start());
    app.addHook('preClose', async () => {
      unsubscribe();
      await worker.stop();
    });
  },
  { name: 'notify', dependencies: ['db', 'auth', 'incidents'] },
);
