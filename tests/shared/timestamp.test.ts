// The wire `date-time` check against the database it protects: every time it accepts, PostgreSQL
// (and PGlite) stores as timestamptz; the ones it refuses are not RFC 3339 or the database refuses them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTimestamp } from '../../shared/timestamp.js';
import { validateEvent } from '../../shared/validate.js';
import { engines, openTestDb, type TestDb } from '../helpers/db.js';

const accepted = [
  '2026-11-28T12:00:00Z',
  '2026-11-28T12:00:00.123Z',
  '2026-11-28t12:00:00.123456789z',
  '2024-02-29T23:59:59+01:00',
  '2026-12-31T23:59:60Z',
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59-15:59',
  '2026-06-01T08:30:00+05:30',
];
const refused = [
  '0000-01-01T00:00:00Z',
  '2026-01-01T00:00:00+16:00',
  '2026-01-01T00:00:00-23:00',
  '2026-02-30T00:00:00Z',
  '2025-02-29T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-01-01T24:00:00Z',
  '2026-01-01T00:60:00Z',
  '2026-01-01T00:00:61Z',
  '2026-01-01T00:00:00',
  '2026-01-01 00:00:00Z',
  '2026-01-01T00:00:00.Z',
  '2026-01-01T00:00:00+0100',
  '26-01-01T00:00:00Z',
  'yesterday',
  '',
];

describe('isTimestamp', () => {
  it('accepts RFC 3339 times the database can store and refuses the rest', () => {
    for (const value of accepted) expect([value, isTimestamp(value)]).toEqual([value, true]);
    for (const value of refused) expect([value, isTimestamp(value)]).toEqual([value, false]);
  });

  it('is the format every compiled wire schema uses', () => {
    const event = {
      type: 'agent.error',
      id: '0192f0e4-7c1a-7b3e-8c4d-1234567890ab',
      agentId: '0192f0e4-7c1a-7b3e-8c4d-1234567890ac',
      time: '0000-01-01T00:00:00Z',
      data: { code: 'x', message: 'y' },
    };
    expect(validateEvent(event).ok).toBe(false);
    expect(validateEvent({ ...event, time: '2026-11-28T12:00:00Z' }).ok).toBe(true);
  });
});

describe.each(engines)('isTimestamp against %s', (engine) => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await openTestDb(engine);
  });
  afterAll(async () => testDb?.close());

  const stores = async (value: string) =>
    testDb.db.query('SELECT $1::timestamptz AS t', [value]).then(
      () => true,
      () => false,
    );

  it('accepts only what timestamptz stores', async () => {
    for (const value of accepted) expect([value, await stores(value)]).toEqual([value, true]);
    // The database refuses the out-of-range ones; the others it might read loosely, we do not.
    for (const value of ['0000-01-01T00:00:00Z', '2026-01-01T00:00:00+16:00', '2026-02-30T00:00:00Z']) {
      expect([value, await stores(value)]).toEqual([value, false]);
    }
  });
});
