import type { CollectorConfig } from '../../../collector/config.js';
import type { Trigger } from '../../../collector/notify/types.js';

export function sampleTrigger(overrides: Partial<Trigger> = {}): Trigger {
  return {
    id: 'trg_01J9Z6ZK8M',
    kind: 'incident.opened',
    occurredAt: new Date('2026-05-01T08:00:00Z'),
    incident: {
      id: 'inc_42',
      title: 'Packet sniffer on workstation CC-0142',
      severity: 'high',
      status: 'open',
      url: 'https://vigil.example.com/incidents/inc_42',
      summary:
        'Wireshark started by agent jdoe; card numbers may have been captured <b>unencrypted</b> & exfiltrated.',
      nextDeadline: { title: 'GDPR Art. 33 notice', dueAt: new Date('2026-05-04T08:00:00Z') },
    },
    ...overrides,
  };
}

/**
 * Collector settings for delivery tests: local receivers allowed, the outbox polled every 50 ms with
 * short retries, and no escalation or overdue sweep running underneath the test.
 */
export const quickDelivery = {
  allowPrivateTargets: true,
  notifyPollMs: 50,
  notifyTimeoutMs: 2000,
  notifyRetryDelaysMs: [0, 100],
  escalationPollMs: 3_600_000,
  overduePollMs: 3_600_000,
} satisfies Partial<CollectorConfig>;
