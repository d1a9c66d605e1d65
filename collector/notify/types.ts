/** What happened to an incident; the outbox turns each into one delivery per configured channel. */
export type TriggerKind =
  | 'incident.opened'
  | 'incident.acknowledged'
  | 'incident.severity_raised'
  | 'incident.task_overdue'
  | 'incident.closed'
  | 'delivery.dead_letter';

export const TRIGGER_KINDS: readonly TriggerKind[] = [
  'incident.opened',
  'incident.acknowledged',
  'incident.severity_raised',
  'incident.task_overdue',
  'incident.closed',
  'delivery.dead_letter',
];

/** Sigma rule levels, reused for incident severity. */
export type Severity = 'informational' | 'low' | 'medium' | 'high' | 'critical';

export interface TriggerIncident {
  id: string;
  title: string;
  severity: Severity;
  status: string;
  /** Link to the incident in the console. */
  url: string;
  summary: string;
  nextDeadline?: { title: string; dueAt: Date };
}

export interface Trigger {
  /** Stable id; used as the Standard Webhooks `webhook-id` so receivers can deduplicate retries. */
  id: string;
  kind: TriggerKind;
  incident: TriggerIncident;
  occurredAt: Date;
}

/** A fully built HTTP request, ready for `deliver`. */
export interface OutgoingRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

export const TRIGGER_HEADLINE: Record<TriggerKind, string> = {
  'incident.opened': 'Incident opened',
  'incident.acknowledged': 'Incident acknowledged: someone is working on it',
  'incident.severity_raised': 'Incident severity raised',
  'incident.task_overdue': 'Incident task overdue',
  'incident.closed': 'Incident closed',
  'delivery.dead_letter': 'Notification delivery failed permanently',
};
