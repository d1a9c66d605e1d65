// The transactional outbox: an incident change calls `enqueueTrigger` with its own transaction, so
// the trigger rows commit (or roll back) with the change. The stored payload is the trigger as it
// was at that moment; its row id is the trigger id and the webhook-id.
import { EventEmitter } from 'node:events';
import type { Queryable } from '../db/db.js';
import { insertOutboxRows } from './repository.js';
import type { Trigger, TriggerIncident, TriggerKind } from './types.js';

export interface TriggerRequest {
  kind: TriggerKind;
  incident: TriggerIncident;
  occurredAt?: Date;
  /** Skip this channel (a dead letter is not announced on the channel that failed). */
  excludeChannelId?: string;
}

interface StoredTrigger {
  kind: TriggerKind;
  occurredAt: string;
  incident: Omit<TriggerIncident, 'nextDeadline'> & { nextDeadline: { title: string; dueAt: string } | null };
}

/** Writes one outbox row per subscribed channel; returns their ids (empty when no channel listens). */
export async function enqueueTrigger(tx: Queryable, request: TriggerRequest): Promise<string[]> {
  const occurredAt = request.occurredAt ?? new Date();
  const { nextDeadline, ...incident } = request.incident;
  const stored: StoredTrigger = {
    kind: request.kind,
    occurredAt: occurredAt.toISOString(),
    incident: {
      ...incident,
      nextDeadline: nextDeadline
        ? { title: nextDeadline.title, dueAt: nextDeadline.dueAt.toISOString() }
        : null,
    },
  };
  return insertOutboxRows(tx, {
    kind: request.kind,
    incidentId: request.incident.id,
    payload: () => stored as unknown as Record<string, unknown>,
    excludeChannelId: request.excludeChannelId,
  });
}

/** The trigger a claimed outbox row carries. */
export function triggerFromPayload(id: string, payload: Record<string, unknown>): Trigger {
  const stored = payload as unknown as StoredTrigger;
  const { nextDeadline, ...incident } = stored.incident;
  return {
    id,
    kind: stored.kind,
    occurredAt: new Date(stored.occurredAt),
    incident: {
      ...incident,
      ...(nextDeadline && {
        nextDeadline: { title: nextDeadline.title, dueAt: new Date(nextDeadline.dueAt) },
      }),
    },
  };
}

/** Wakes this process's delivery worker right after a commit that wrote outbox rows. */
export interface OutboxSignal {
  written(): void;
  subscribe(listener: () => void): () => void;
}

export function createOutboxSignal(): OutboxSignal {
  const emitter = new EventEmitter();
  return {
    written: () => emitter.emit('written'),
    subscribe(listener) {
      emitter.on('written', listener);
      return () => emitter.off('written', listener);
    },
  };
}
