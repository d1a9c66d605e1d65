import { describe, expect, it } from 'vitest';
import { collectorConfigFrom, collectorOptions } from '../../../collector/config.js';
import { decideWithSchedule } from '../../../collector/notify/worker.js';
import { readOptions } from '../../../shared/options.js';

const configFrom = (env: Record<string, string>) =>
  collectorConfigFrom(readOptions(collectorOptions, [], env).values);

describe('notification settings', () => {
  it('keeps the SSRF guard on unless VIGIL_ALLOW_PRIVATE_TARGETS is set', () => {
    expect(configFrom({}).allowPrivateTargets).toBe(false);
    expect(configFrom({ VIGIL_ALLOW_PRIVATE_TARGETS: 'true' }).allowPrivateTargets).toBe(true);
  });

  it('reads a retry schedule override and refuses a malformed one', () => {
    expect(configFrom({}).notifyRetryDelaysMs).toBeUndefined();
    expect(configFrom({ VIGIL_NOTIFY_RETRY_DELAYS: '0, 100,2000' }).notifyRetryDelaysMs).toEqual([
      0, 100, 2000,
    ]);
    expect(() => configFrom({ VIGIL_NOTIFY_RETRY_DELAYS: '0,soon' })).toThrow(/retry delays/);
    expect(() => configFrom({ VIGIL_NOTIFY_TIMEOUT_MS: '0' })).toThrow(/notify-timeout-ms/);
  });
});

describe('decideWithSchedule', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const fail = { ok: false, reason: 'HTTP 503' };
  const noJitter = () => 0.5;

  it('follows the override schedule and dead-letters after its last attempt', () => {
    expect(decideWithSchedule(1, fail, now, [0, 100, 200], noJitter)).toEqual({
      action: 'retry',
      at: new Date(now.getTime() + 100),
    });
    expect(decideWithSchedule(3, fail, now, [0, 100, 200], noJitter)).toMatchObject({
      action: 'dead_letter',
    });
  });

  it('waits for a longer Retry-After, and leaves 410 and permanent failures alone', () => {
    expect(decideWithSchedule(1, { ...fail, retryAfterMs: 1000 }, now, [0, 100], noJitter)).toEqual({
      action: 'retry',
      at: new Date(now.getTime() + 1000),
    });
    expect(decideWithSchedule(1, { ...fail, disable: true }, now, [0, 100])).toMatchObject({
      action: 'disable_endpoint',
    });
    expect(decideWithSchedule(1, { ...fail, permanent: true }, now, [0, 100])).toMatchObject({
      action: 'dead_letter',
    });
  });

  it('uses the Standard Webhooks schedule without an override', () => {
    const decision = decideWithSchedule(1, fail, now, undefined, noJitter);
    expect(decision).toEqual({ action: 'retry', at: new Date(now.getTime() + 5000) });
    expect(decideWithSchedule(8, fail, now, undefined, noJitter)).toMatchObject({ action: 'dead_letter' });
  });
});
