// A dead letter raises a Vigil alert: the trigger that should have reached incident managers did
// not, and the other channels may be down too, so IT security must see it in the alert queue. It is
// a collector alert (no workstation), one per channel while it keeps failing within the dedup
// window: each further dead letter on that channel bumps its count.
import { type Level, recordCollectorAlert } from '../alerts/repository.js';
import type { Queryable } from '../db/db.js';
import type { ClaimedDelivery } from './repository.js';
import type { Trigger } from './types.js';

/**
 * The fixed identity of these alerts (not a Sigma rule: it fires on the delivery worker's
 * decision, not on an event, so it is not listed among the detection rules).
 */
export const DEAD_LETTER_RULE = {
  id: 'vigil-notify-dead-letter',
  title: 'Notification could not be delivered',
  level: 'high' as Level,
  // No ATT&CK technique describes a receiver that is down; tags would only mislead escalation rules.
  tags: [] as string[],
};

/** The `eventType` the alert's evidence carries, for the console's evidence view. */
export const DEAD_LETTER_EVIDENCE_TYPE = 'notify.dead_letter';

export interface DeadLetterFacts {
  delivery: ClaimedDelivery;
  trigger: Trigger;
  /** Why the last attempt failed (the dead-letter decision's reason). */
  reason: string;
  time: Date;
}

/** Records (or bumps) the channel's dead-letter alert in `tx`, the transaction that marks the row dead. */
export function raiseDeadLetterAlert(
  tx: Queryable,
  facts: DeadLetterFacts,
  windowMs: number,
): Promise<{ alertId: string; created: boolean }> {
  const { delivery, trigger } = facts;
  return recordCollectorAlert(
    tx,
    {
      ruleId: DEAD_LETTER_RULE.id,
      ruleTitle: DEAD_LETTER_RULE.title,
      level: DEAD_LETTER_RULE.level,
      tags: DEAD_LETTER_RULE.tags,
      entity: delivery.channel.id,
      time: facts.time,
      evidence: {
        eventType: DEAD_LETTER_EVIDENCE_TYPE,
        channelId: delivery.channel.id,
        channel: delivery.channel.name,
        channelKind: delivery.channel.type,
        trigger: delivery.kind,
        outboxId: delivery.id,
        incidentId: delivery.incidentId ?? trigger.incident.id,
        incidentTitle: trigger.incident.title,
        lastError: facts.reason,
        attempts: delivery.attempt,
      },
    },
    windowMs,
  );
}
