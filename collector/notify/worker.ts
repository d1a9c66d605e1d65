// The delivery worker: claims due outbox rows (safe with several collector processes), sends each
// over its channel, records the attempt, and schedules the retry, dead letter or channel shutdown.
import type { FastifyBaseLogger } from 'fastify';
import type { Db, Queryable } from '../db/db.js';
import { addTimeline } from '../incidents/repository.js';
import { buildRequest } from './channels.js';
import { raiseDeadLetterAlert } from './dead-letter-alert.js';
import { buildEmail, sendEmail } from './email.js';
import { deliver } from './http.js';
import { enqueueTrigger, triggerFromPayload } from './outbox.js';
import {
  type ChannelRecord,
  type ClaimedDelivery,
  claimDueDeliveries,
  disableChannel,
  recordAttempt,
  settleDelivered,
  settleDelivery,
} from './repository.js';
import {
  type AttemptDecision,
  type AttemptFacts,
  decideAfterAttempt,
  httpAttemptFacts,
  JITTER,
  MAX_ATTEMPTS,
} from './schedule.js';
import type { Trigger } from './types.js';

export interface DeliveryWorkerOptions {
  pollMs: number;
  batchSize: number;
  timeoutMs: number;
  /** How long a claimed row stays ours; longer than timeoutMs so a live attempt is never taken over. */
  leaseMs: number;
  allowPrivateTargets: boolean;
  /** Replaces the Standard Webhooks schedule: ms before each attempt, first 0. */
  retryDelaysMs?: number[];
  /** The alert dedup window: dead letters on one channel within it bump one alert. */
  alertDedupWindowMs?: number;
  /** Called in the dead-letter transaction with the alert it raised or bumped (live consoles). */
  onAlert?: (tx: Queryable, alert: { alertId: string; created: boolean }) => Promise<void>;
  log: FastifyBaseLogger;
}

const DEFAULT_ALERT_DEDUP_WINDOW_MS = 3_600_000;

/** decideAfterAttempt, with the retry times and attempt budget taken from an overriding schedule. */
export function decideWithSchedule(
  attempt: number,
  facts: AttemptFacts,
  now: Date,
  delaysMs?: number[],
  random: () => number = Math.random,
): AttemptDecision {
  const decision = decideAfterAttempt(attempt, facts, now, random);
  if (!delaysMs || (decision.action !== 'retry' && decision.action !== 'dead_letter')) return decision;
  if (decision.action === 'dead_letter' && facts.permanent) return decision;
  const base = delaysMs[attempt];
  if (base === undefined) {
    return {
      action: 'dead_letter',
      reason: `${facts.reason ?? 'delivery failed'} (after ${attempt} attempts)`,
    };
  }
  const jittered = base * (1 + (random() * 2 - 1) * JITTER);
  const delay =
    facts.retryAfterMs !== undefined && facts.retryAfterMs > jittered ? facts.retryAfterMs : jittered;
  return { action: 'retry', at: new Date(now.getTime() + Math.round(delay)) };
}

interface AttemptResult {
  facts: AttemptFacts;
  responseStatus: number | null;
}

export class DeliveryWorker {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;
  private wakeRequested = false;

  constructor(
    private readonly db: Db,
    private readonly options: DeliveryWorkerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Runs a pass now (after a commit that wrote outbox rows) instead of at the next poll. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.loop().finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        const again = this.wakeRequested;
        this.wakeRequested = false;
        this.schedule(again ? 0 : this.options.pollMs);
      });
    }, delayMs);
  }

  private async loop(): Promise<void> {
    try {
      // Keep going while full batches come back: a backlog drains without waiting for the poll.
      while (!this.stopped && (await this.runOnce()) === this.options.batchSize) {}
    } catch (err) {
      this.options.log.error({ err }, 'notification delivery pass failed');
    }
  }

  /** Claims and delivers one batch; returns how many rows it claimed. */
  async runOnce(): Promise<number> {
    const claimed = await claimDueDeliveries(this.db, this.options.batchSize, this.options.leaseMs);
    await Promise.all(claimed.map((delivery) => this.handle(delivery)));
    return claimed.length;
  }

  private maxAttempts(): number {
    return this.options.retryDelaysMs?.length ?? MAX_ATTEMPTS;
  }

  private async handle(delivery: ClaimedDelivery): Promise<void> {
    const trigger = triggerFromPayload(delivery.id, delivery.payload);
    const budget = this.maxAttempts();
    // Attempts lost to crashes count too, so a row that kills its process cannot loop forever.
    if (delivery.attempt > budget) {
      await this.db.transaction(async (tx) => {
        await recordAttempt(tx, {
          outboxId: delivery.id,
          attempt: delivery.attempt,
          ok: false,
          responseStatus: null,
          durationMs: 0,
          error: 'attempt budget used up by attempts that never finished',
        });
        await this.settle(tx, delivery, trigger, {
          action: 'dead_letter',
          reason: 'attempt budget exhausted',
        });
      });
      return;
    }
    const started = performance.now();
    const result = await this.attempt(delivery.channel, trigger);
    const durationMs = Math.round(performance.now() - started);
    const decision = decideWithSchedule(
      delivery.attempt,
      result.facts,
      new Date(),
      this.options.retryDelaysMs,
    );
    if (decision.action === 'delivered') {
      await settleDelivered(
        this.db,
        {
          outboxId: delivery.id,
          attempt: delivery.attempt,
          responseStatus: result.responseStatus,
          durationMs,
        },
        this.timelineDetails(delivery),
      );
      return;
    }
    await this.db.transaction(async (tx) => {
      await recordAttempt(tx, {
        outboxId: delivery.id,
        attempt: delivery.attempt,
        ok: result.facts.ok,
        responseStatus: result.responseStatus,
        durationMs,
        error: result.facts.ok ? null : (result.facts.reason ?? 'delivery failed'),
      });
      await this.settle(tx, delivery, trigger, decision);
    });
    if (!result.facts.ok) {
      this.options.log.warn(
        {
          outboxId: delivery.id,
          channel: delivery.channel.name,
          attempt: delivery.attempt,
          reason: result.facts.reason,
          next: decision.action,
        },
        'notification attempt failed',
      );
    }
  }

  private async attempt(channel: ChannelRecord, trigger: Trigger): Promise<AttemptResult> {
    try {
      if (channel.settings.type === 'email') {
        const { smtp, from, to } = channel.settings;
        const sent = await sendEmail(smtp, buildEmail(trigger, { from, to }), {
          timeoutMs: this.options.timeoutMs,
          allowPrivateTargets: this.options.allowPrivateTargets,
        });
        return {
          responseStatus: null,
          facts: {
            ok: sent.ok,
            permanent: sent.permanent,
            ...(sent.error && { reason: `${sent.error.code}: ${sent.error.message}` }),
          },
        };
      }
      const request = buildRequest(channel.settings, trigger, new Date());
      const result = await deliver(request, {
        timeoutMs: this.options.timeoutMs,
        allowPrivateTargets: this.options.allowPrivateTargets,
      });
      return { responseStatus: result.status || null, facts: httpAttemptFacts(result) };
    } catch (err) {
      // Building the request failed: the stored channel settings are unusable; waiting will not help.
      const code = (err as { code?: string }).code ?? 'build_failed';
      return {
        responseStatus: null,
        facts: { ok: false, permanent: true, reason: `${code}: ${(err as Error).message}` },
      };
    }
  }

  private timelineDetails(delivery: ClaimedDelivery) {
    const channel = { id: delivery.channel.id, name: delivery.channel.name, type: delivery.channel.type };
    return { outboxId: delivery.id, kind: delivery.kind, channel, attempt: delivery.attempt };
  }

  private async raiseAlert(
    tx: Queryable,
    delivery: ClaimedDelivery,
    trigger: Trigger,
    reason: string,
  ): Promise<void> {
    const alert = await raiseDeadLetterAlert(
      tx,
      { delivery, trigger, reason, time: new Date() },
      this.options.alertDedupWindowMs ?? DEFAULT_ALERT_DEDUP_WINDOW_MS,
    );
    await this.options.onAlert?.(tx, alert);
  }

  private async settle(
    tx: Queryable,
    delivery: ClaimedDelivery,
    trigger: Trigger,
    decision: AttemptDecision,
  ): Promise<void> {
    const base = this.timelineDetails(delivery);
    const { channel } = base;
    switch (decision.action) {
      case 'delivered':
        if (!(await settleDelivery(tx, delivery.id, delivery.attempt, { status: 'delivered' }))) return;
        if (delivery.incidentId)
          await addTimeline(tx, delivery.incidentId, 'system:notify', 'trigger.delivered', base);
        return;
      case 'retry':
        await settleDelivery(tx, delivery.id, delivery.attempt, {
          status: 'pending',
          nextAttemptAt: decision.at,
          error: `attempt ${delivery.attempt} failed`,
        });
        return;
      case 'disable_endpoint':
        if (
          !(await settleDelivery(tx, delivery.id, delivery.attempt, {
            status: 'cancelled',
            error: decision.reason,
          }))
        )
          return;
        await disableChannel(tx, delivery.channel.id, `receiver answered 410 Gone (${decision.reason})`);
        if (delivery.incidentId) {
          await addTimeline(tx, delivery.incidentId, 'system:notify', 'channel.disabled', {
            ...base,
            reason: decision.reason,
          });
        }
        this.options.log.warn(
          { channel: channel.name },
          'notification channel disabled: the receiver answered 410 Gone',
        );
        return;
      case 'dead_letter':
        if (
          !(await settleDelivery(tx, delivery.id, delivery.attempt, {
            status: 'dead',
            error: decision.reason,
          }))
        )
          return;
        // IT security sees it in the alert queue even when every channel is down.
        await this.raiseAlert(tx, delivery, trigger, decision.reason);
        if (delivery.incidentId) {
          await addTimeline(tx, delivery.incidentId, 'system:notify', 'trigger.dead_letter', {
            ...base,
            reason: decision.reason,
          });
        }
        // Tell the other channels, once: a failed dead-letter notice is not announced again.
        if (delivery.kind !== 'delivery.dead_letter') {
          await enqueueTrigger(tx, {
            kind: 'delivery.dead_letter',
            excludeChannelId: delivery.channel.id,
            incident: {
              ...trigger.incident,
              summary: `The ${delivery.kind} notification to channel "${channel.name}" failed permanently after ${delivery.attempt} attempts: ${decision.reason}. ${trigger.incident.summary}`,
            },
          });
        }
        this.options.log.error(
          { outboxId: delivery.id, channel: channel.name, reason: decision.reason },
          'notification dead-lettered',
        );
        return;
    }
  }
}
