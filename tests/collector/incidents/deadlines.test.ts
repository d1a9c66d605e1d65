import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  computeDeadlines,
  type Deadline,
  DeadlineInputError,
  JurisdictionDataError,
  loadJurisdictions,
  UnknownJurisdictionError,
  validateJurisdictionTable,
} from '../../../collector/incidents/deadlines.js';

function find(deadlines: Deadline[], jurisdictionId: string, obligationId: string): Deadline {
  const found = deadlines.find((d) => d.jurisdictionId === jurisdictionId && d.obligationId === obligationId);
  if (!found) throw new Error(`no deadline ${jurisdictionId}/${obligationId}`);
  return found;
}

function local(iso: string, zone: string): Date {
  const at = DateTime.fromISO(iso, { zone });
  if (!at.isValid) throw new Error(`bad test date ${iso}`);
  return at.toJSDate();
}

describe('bundled jurisdiction table', () => {
  it('loads, carries the disclaimer, and cites a source for every obligation', () => {
    const table = loadJurisdictions();
    expect(table.disclaimer).toMatch(/not legal advice/i);
    const ids = table.jurisdictions.map((j) => j.id);
    for (const id of [
      'eu-gdpr',
      'uk-gdpr',
      'us-hipaa',
      'us-ca',
      'us-co',
      'us-fl',
      'us-wa',
      'us-ny',
      'us-tx',
    ]) {
      expect(ids).toContain(id);
    }
    for (const j of table.jurisdictions) {
      for (const o of j.obligations) {
        expect(o.source.citation.length).toBeGreaterThan(5);
        expect(o.source.url).toMatch(/^https?:\/\//);
      }
    }
  });
});

describe('computeDeadlines', () => {
  it('counts GDPR 72 hours as exact elapsed time across the Berlin spring-forward switch', () => {
    // 2026-03-29 02:00 CET jumps to 03:00 CEST.
    const aware = local('2026-03-28T12:00', 'Europe/Berlin');
    const deadlines = computeDeadlines({
      clocks: { aware },
      affected: { 'eu-gdpr': 10 },
      timeZone: 'Europe/Berlin',
    });
    const art33 = find(deadlines, 'eu-gdpr', 'supervisory-authority');
    expect(art33.dueAt?.toISOString()).toBe('2026-03-31T11:00:00.000Z');
    // 72 real hours later the Berlin wall clock reads 13:00, not 12:00.
    expect(DateTime.fromJSDate(art33.dueAt!, { zone: 'Europe/Berlin' }).toFormat('HH:mm')).toBe('13:00');
    expect(art33.basis).toContain('72 hours after becoming aware');
    expect(art33.status).toBe('scheduled');
    const art34 = find(deadlines, 'eu-gdpr', 'individuals');
    expect(art34.dueAt).toBeNull();
    expect(art34.status).toBe('no_fixed_limit');
    expect(art34.condition).toMatch(/high risk/);
  });

  it('counts days as calendar days that keep the Berlin wall-clock time in March and October', () => {
    const march = computeDeadlines({
      clocks: { discovered: local('2026-03-20T10:00', 'Europe/Berlin') },
      affected: { 'us-wa': 10 },
      timeZone: 'Europe/Berlin',
    });
    const wa = find(march, 'us-wa', 'individuals');
    expect(DateTime.fromJSDate(wa.dueAt!, { zone: 'Europe/Berlin' }).toISO()).toBe(
      '2026-04-19T10:00:00.000+02:00',
    );
    // Only 30 days minus the lost hour have elapsed.
    expect(wa.dueAt!.getTime() - local('2026-03-20T10:00', 'Europe/Berlin').getTime()).toBe(
      (30 * 24 - 1) * 3_600_000,
    );

    // 2026-10-25 03:00 CEST falls back to 02:00 CET.
    const october = computeDeadlines({
      clocks: { discovered: local('2026-10-20T09:00', 'Europe/Berlin') },
      affected: { 'us-wa': 10 },
      timeZone: 'Europe/Berlin',
    });
    const waOct = find(october, 'us-wa', 'individuals');
    expect(waOct.dueAt?.toISOString()).toBe('2026-11-19T08:00:00.000Z');
    expect(DateTime.fromJSDate(waOct.dueAt!, { zone: 'Europe/Berlin' }).toFormat('yyyy-MM-dd HH:mm')).toBe(
      '2026-11-19 09:00',
    );
  });

  it('uses the given zone: the same instant gives a different UTC due time in Los Angeles', () => {
    // Determined 2026-02-20 17:00 PST; DST starts 2026-03-08 in the US.
    const determined = local('2026-02-20T17:00', 'America/Los_Angeles');
    const deadlines = computeDeadlines({
      clocks: { determined },
      affected: { 'us-co': 600, 'us-tx': 300 },
      timeZone: 'America/Los_Angeles',
    });
    expect(find(deadlines, 'us-co', 'individuals').dueAt?.toISOString()).toBe('2026-03-23T00:00:00.000Z'); // 17:00 PDT
    expect(find(deadlines, 'us-co', 'attorney-general').dueAt?.toISOString()).toBe(
      '2026-03-23T00:00:00.000Z',
    );
    expect(find(deadlines, 'us-tx', 'attorney-general').dueAt?.toISOString()).toBe(
      '2026-03-23T00:00:00.000Z',
    );
    expect(find(deadlines, 'us-tx', 'individuals').dueAt?.toISOString()).toBe('2026-04-22T00:00:00.000Z');

    const berlin = computeDeadlines({
      clocks: { determined },
      affected: { 'us-co': 600 },
      timeZone: 'Europe/Berlin',
    });
    // In Berlin the instant is 02:00 CET on the 21st; 30 calendar days later is 02:00 CET on 2026-03-23.
    expect(find(berlin, 'us-co', 'individuals').dueAt?.toISOString()).toBe('2026-03-23T01:00:00.000Z');
  });

  it('applies thresholds at their boundaries', () => {
    const discovered = local('2026-05-01T09:00', 'America/Los_Angeles');
    const determined = discovered;
    const run = (affected: Record<string, number>) =>
      computeDeadlines({ clocks: { discovered, determined }, affected, timeZone: 'America/Los_Angeles' });
    const keys = (list: Deadline[]) => list.map((d) => `${d.jurisdictionId}/${d.obligationId}`).sort();

    expect(keys(run({ 'us-ca': 500 }))).toEqual(['us-ca/individuals']);
    expect(keys(run({ 'us-ca': 501 }))).toEqual(['us-ca/attorney-general', 'us-ca/individuals']);
    expect(keys(run({ 'us-tx': 249 }))).toEqual(['us-tx/individuals']);
    expect(keys(run({ 'us-tx': 250 }))).toEqual(['us-tx/attorney-general', 'us-tx/individuals']);
    expect(keys(run({ 'us-tx': 10_001 }))).toContain('us-tx/credit-bureaus');
    expect(keys(run({ 'us-fl': 499 }))).toEqual(['us-fl/individuals']);
    expect(keys(run({ 'us-fl': 1000 }))).toEqual(['us-fl/attorney-general', 'us-fl/individuals']);
    expect(keys(run({ 'us-fl': 1001 }))).toContain('us-fl/credit-bureaus');
    expect(keys(run({ 'us-wa': 500 }))).toEqual(['us-wa/individuals']);
    expect(keys(run({ 'us-wa': 501 }))).toEqual(['us-wa/attorney-general', 'us-wa/individuals']);
    expect(keys(run({ 'us-co': 499 }))).toEqual(['us-co/individuals']);
    expect(keys(run({ 'us-co': 500 }))).toEqual(['us-co/attorney-general', 'us-co/individuals']);
    expect(keys(run({ 'us-ny': 5000 }))).toEqual(['us-ny/individuals', 'us-ny/state-regulators']);
    expect(keys(run({ 'us-ny': 5001 }))).toContain('us-ny/credit-bureaus');
    expect(keys(run({ 'us-hipaa': 499 }))).toEqual(['us-hipaa/hhs-annual-log', 'us-hipaa/individuals']);
    expect(keys(run({ 'us-hipaa': 500 }))).toEqual(['us-hipaa/hhs', 'us-hipaa/individuals']);
    expect(keys(run({ 'us-hipaa': 501 }))).toEqual([
      'us-hipaa/hhs',
      'us-hipaa/individuals',
      'us-hipaa/media',
    ]);
    expect(run({ 'us-ca': 0 })).toEqual([]);
  });

  it('schedules the California AG copy 15 days after the latest individual-notice date (SB 446)', () => {
    const discovered = local('2026-05-01T09:00', 'America/Los_Angeles');
    const deadlines = computeDeadlines({
      clocks: { discovered },
      affected: { 'us-ca': 2000, 'us-ny': 10 },
      timeZone: 'America/Los_Angeles',
    });
    const individuals = find(deadlines, 'us-ca', 'individuals');
    const ag = find(deadlines, 'us-ca', 'attorney-general');
    expect(DateTime.fromJSDate(individuals.dueAt!, { zone: 'America/Los_Angeles' }).toISO()).toBe(
      '2026-05-31T09:00:00.000-07:00',
    );
    expect(DateTime.fromJSDate(ag.dueAt!, { zone: 'America/Los_Angeles' }).toISO()).toBe(
      '2026-06-15T09:00:00.000-07:00',
    );
    expect(ag.basis).toMatch(/15 days after the individuals notice/);
    // New York's regulators are due no later than its individual notice.
    expect(find(deadlines, 'us-ny', 'state-regulators').dueAt).toEqual(
      find(deadlines, 'us-ny', 'individuals').dueAt,
    );
  });

  it('puts the HIPAA small-breach log 60 days after the end of the calendar year of discovery', () => {
    const deadlines = computeDeadlines({
      clocks: { discovered: local('2026-06-10T15:00', 'America/New_York') },
      affected: { 'us-hipaa': 120 },
      timeZone: 'America/New_York',
    });
    const log = find(deadlines, 'us-hipaa', 'hhs-annual-log');
    expect(DateTime.fromJSDate(log.dueAt!, { zone: 'America/New_York' }).toISO()).toBe(
      '2027-03-02T00:00:00.000-05:00',
    );
    expect(find(deadlines, 'us-hipaa', 'individuals').dueAt?.toISOString()).toBe('2026-08-09T19:00:00.000Z');
  });

  it('returns null due dates while a clock has not started', () => {
    const deadlines = computeDeadlines({
      clocks: { aware: local('2026-05-01T09:00', 'Europe/Berlin') },
      affected: { 'eu-gdpr': 5, 'us-ca': 900 },
      timeZone: 'Europe/Berlin',
    });
    expect(find(deadlines, 'eu-gdpr', 'supervisory-authority').dueAt).not.toBeNull();
    const ca = find(deadlines, 'us-ca', 'individuals');
    expect(ca.dueAt).toBeNull();
    expect(ca.status).toBe('clock_not_started');
    const ag = find(deadlines, 'us-ca', 'attorney-general');
    expect(ag.dueAt).toBeNull();
    expect(ag.status).toBe('clock_not_started');
  });

  it('orders dated deadlines first, earliest first', () => {
    const at = local('2026-05-01T09:00', 'UTC');
    const deadlines = computeDeadlines({
      clocks: { aware: at, discovered: at, determined: at },
      affected: { 'us-tx': 20_000, 'eu-gdpr': 10, 'us-ca': 10 },
      timeZone: 'UTC',
    });
    expect(deadlines[0]!.obligationId).toBe('supervisory-authority');
    const dated = deadlines.filter((d) => d.dueAt !== null).map((d) => d.dueAt!.getTime());
    expect(dated).toEqual([...dated].sort((a, b) => a - b));
    const firstUndated = deadlines.findIndex((d) => d.dueAt === null);
    expect(deadlines.slice(firstUndated).every((d) => d.dueAt === null)).toBe(true);
  });

  it('rejects bad input with coded errors', () => {
    const base = { clocks: {}, affected: {}, timeZone: 'UTC' };
    expect(() => computeDeadlines({ ...base, affected: { 'us-xx': 5 } })).toThrow(UnknownJurisdictionError);
    expect(() => computeDeadlines({ ...base, timeZone: 'Mars/Olympus' })).toThrow(DeadlineInputError);
    expect(() => computeDeadlines({ ...base, affected: { 'us-ca': -1 } })).toThrow(/non-negative integer/);
    expect(() => computeDeadlines({ ...base, clocks: { aware: new Date('nope') } })).toThrow(/valid Date/);
    try {
      computeDeadlines({ ...base, affected: { nowhere: 1 } });
      expect.unreachable();
    } catch (error) {
      expect((error as UnknownJurisdictionError).code).toBe('UNKNOWN_JURISDICTION');
    }
  });
});

describe('validateJurisdictionTable', () => {
  const obligation = {
    id: 'individuals',
    audience: 'individuals',
    recipient: 'People',
    clock: 'discovered',
    within: 'P30D',
    threshold: null,
    source: { citation: 'Test Act § 1', url: 'https://example.org' },
  };
  const table = (obligations: unknown[]) => ({
    disclaimer: 'Not legal advice.',
    reviewedAt: '2026-01-01',
    jurisdictions: [{ id: 'x', name: 'X', obligations }],
  });

  it('accepts a minimal table', () => {
    expect(validateJurisdictionTable(table([obligation])).jurisdictions[0]!.obligations[0]!.within).toBe(
      'P30D',
    );
  });

  it('rejects malformed durations, missing sources and dangling references', () => {
    expect(() => validateJurisdictionTable(table([{ ...obligation, within: '30 days' }]))).toThrow(
      JurisdictionDataError,
    );
    expect(() => validateJurisdictionTable(table([{ ...obligation, source: undefined }]))).toThrow(/source/);
    expect(() =>
      validateJurisdictionTable(
        table([obligation, { ...obligation, id: 'ag', from: { obligation: 'missing' } }]),
      ),
    ).toThrow(/from/);
    expect(() => validateJurisdictionTable(table([obligation, obligation]))).toThrow(/duplicate/);
    expect(() => validateJurisdictionTable(table([{ ...obligation, clock: 'breached' }]))).toThrow(/clock/);
  });
});
