/**
 * Standard Webhooks retry schedule: the first attempt goes out immediately, then retries after
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h — eight attempts over about 27.5 hours.
 */
export const RETRY_DELAYS_MS: readonly number[] = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length;
/** ±20 % so that many failed deliveries do not retry in lock-step. */
export const JITTER = 0.2;

export class RetryScheduleError extends Error {
  readonly code = 'RETRY_SCHEDULE_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'RetryScheduleError';
  }
}

function requireAttempt(attempt: number): void {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RetryScheduleError(`attempt must be a positive integer (1 = first attempt), got ${attempt}`);
  }
}

/** True when `attempt` (1-based, the one that just failed) was the last one allowed. */
export function isLastAttempt(attempt: number): boolean {
  requireAttempt(attempt);
  return attempt >= MAX_ATTEMPTS;
}

/**
 * When to make the attempt after failed attempt number `attempt` (1-based); null when retries are
 * exhausted (dead letter). A receiver's Retry-After wins when it asks for a longer wait.
 */
export function nextAttemptAt(
  attempt: number,
  now: Date,
  retryAfterMs?: number,
  random: () => number = Math.random,
): Date | null {
  requireAttempt(attempt);
  if (isLastAttempt(attempt)) return null;
  const base = RETRY_DELAYS_MS[attempt]!;
  const jittered = base * (1 + (random() * 2 - 1) * JITTER);
  const delay = retryAfterMs !== undefined && retryAfterMs > jittered ? retryAfterMs : jittered;
  return new Date(now.getTime() + Math.round(delay));
}

/** What the outbox should do with a delivery after an attempt. */
export type AttemptDecision =
  | { action: 'delivered' }
  | { action: 'retry'; at: Date }
  | { action: 'dead_letter'; reason: string }
  | { action: 'disable_endpoint'; reason: string };

/** The facts of one attempt, from `deliver` (HTTP) or `sendEmail` (SMTP). */
export interface AttemptFacts {
  ok: boolean;
  /** 410 Gone from the receiver. */
  disable?: boolean;
  /** The failure cannot heal by waiting (bad URL, blocked target, refused redirect, SMTP 5xx). */
  permanent?: boolean;
  retryAfterMs?: number;
  /** Short, secret-free reason for the log and the dead-letter record. */
  reason?: string;
}

const PERMANENT_HTTP_ERRORS = new Set([
  'invalid_url',
  'blocked_target',
  'redirect_refused',
  'too_many_redirects',
]);

/** Adapts an HTTP `DeliveryResult` to the facts `decideAfterAttempt` needs. */
export function httpAttemptFacts(result: {
  ok: boolean;
  status: number;
  disable: boolean;
  retryAfterMs?: number;
  error?: { code: string; message: string };
}): AttemptFacts {
  const facts: AttemptFacts = {
    ok: result.ok,
    disable: result.disable,
    permanent: result.error !== undefined && PERMANENT_HTTP_ERRORS.has(result.error.code),
    reason: result.error ? `${result.error.code}: ${result.error.message}` : `HTTP ${result.status}`,
  };
  if (result.retryAfterMs !== undefined) facts.retryAfterMs = result.retryAfterMs;
  return facts;
}

/** Decides the next step after failed or successful attempt number `attempt` (1-based). */
export function decideAfterAttempt(
  attempt: number,
  facts: AttemptFacts,
  now: Date,
  random: () => number = Math.random,
): AttemptDecision {
  requireAttempt(attempt);
  if (facts.ok) return { action: 'delivered' };
  const reason = facts.reason ?? 'delivery failed';
  if (facts.disable) return { action: 'disable_endpoint', reason };
  if (facts.permanent) return { action: 'dead_letter', reason };
  const at = nextAttemptAt(attempt, now, facts.retryAfterMs, random);
  if (at === null) return { action: 'dead_letter', reason: `${reason} (after ${attempt} attempts)` };
  return { action: 'retry', at };
}
