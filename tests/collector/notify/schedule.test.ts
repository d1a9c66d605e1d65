import { describe, expect, it } from 'vitest';
import {
  decideAfterAttempt,
  httpAttemptFacts,
  isLastAttempt,
  MAX_ATTEMPTS,
  nextAttemptAt,
  RETRY_DELAYS_MS,
  RetryScheduleError,
} from '../../../collector/notify/schedule.js';

const now = new Date('2026-05-01T08:00:00Z');
const middle = () => 0.5;

describe('retry schedule', () => {
  it('follows the Standard Webhooks schedule: now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h', () => {
    expect(RETRY_DELAYS_MS).toEqual([0, 5e3, 3e5, 1.8e6, 7.2e6, 1.8e7, 3.6e7, 3.6e7]);
    expect(MAX_ATTEMPTS).toBe(8);
    const delays = [1, 2, 3, 4, 5, 6, 7].map(
      (attempt) => nextAttemptAt(attempt, now, undefined, middle)!.getTime() - now.getTime(),
    );
    expect(delays).toEqual(RETRY_DELAYS_MS.slice(1));
  });

  it('applies at most ±20 % jitter', () => {
    const low = nextAttemptAt(3, now, undefined, () => 0)!.getTime() - now.getTime();
    const high = nextAttemptAt(3, now, undefined, () => 0.999999)!.getTime() - now.getTime();
    expect(low).toBe(0.8 * 30 * 60_000);
    expect(high).toBeLessThanOrEqual(1.2 * 30 * 60_000);
    expect(high).toBeGreaterThan(1.19 * 30 * 60_000);
    const samples = Array.from({ length: 200 }, () => nextAttemptAt(2, now)!.getTime() - now.getTime());
    for (const delay of samples) {
      expect(delay).toBeGreaterThanOrEqual(240_000);
      expect(delay).toBeLessThanOrEqual(360_000);
    }
  });

  it('honours Retry-After only when it asks for a longer wait', () => {
    expect(nextAttemptAt(1, now, 60_000, middle)!.getTime() - now.getTime()).toBe(60_000);
    expect(nextAttemptAt(4, now, 60_000, middle)!.getTime() - now.getTime()).toBe(2 * 3_600_000);
  });

  it('stops after the eighth attempt', () => {
    expect(isLastAttempt(7)).toBe(false);
    expect(isLastAttempt(8)).toBe(true);
    expect(nextAttemptAt(8, now)).toBeNull();
    expect(() => nextAttemptAt(0, now)).toThrow(RetryScheduleError);
    expect(() => isLastAttempt(1.5)).toThrow(/positive integer/);
  });
});

describe('decideAfterAttempt', () => {
  it('marks success as delivered', () => {
    expect(decideAfterAttempt(1, { ok: true }, now)).toEqual({ action: 'delivered' });
  });

  it('retries a 503 on schedule and honours its Retry-After', () => {
    const facts = httpAttemptFacts({ ok: false, status: 503, disable: false, retryAfterMs: 600_000 });
    expect(decideAfterAttempt(2, facts, now, middle)).toEqual({
      action: 'retry',
      at: new Date(now.getTime() + 600_000),
    });
    expect(decideAfterAttempt(5, facts, now, middle)).toEqual({
      action: 'retry',
      at: new Date(now.getTime() + 5 * 3_600_000),
    });
  });

  it('dead-letters after the last attempt and on permanent errors; disables on 410', () => {
    const transient = httpAttemptFacts({ ok: false, status: 500, disable: false });
    expect(decideAfterAttempt(8, transient, now)).toEqual({
      action: 'dead_letter',
      reason: 'HTTP 500 (after 8 attempts)',
    });
    const blocked = httpAttemptFacts({
      ok: false,
      status: 0,
      disable: false,
      error: { code: 'blocked_target', message: 'x resolves to non-public address 10.0.0.1' },
    });
    expect(decideAfterAttempt(1, blocked, now).action).toBe('dead_letter');
    const timeout = httpAttemptFacts({
      ok: false,
      status: 0,
      disable: false,
      error: { code: 'timeout', message: 't' },
    });
    expect(decideAfterAttempt(1, timeout, now).action).toBe('retry');
    const gone = httpAttemptFacts({ ok: false, status: 410, disable: true });
    expect(decideAfterAttempt(1, gone, now)).toEqual({ action: 'disable_endpoint', reason: 'HTTP 410' });
    expect(decideAfterAttempt(1, { ok: false, permanent: true, reason: 'SMTP 550' }, now)).toEqual({
      action: 'dead_letter',
      reason: 'SMTP 550',
    });
  });
});
