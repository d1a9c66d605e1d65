// Collector alerts (no agent, no event): deduplicated per rule+entity like workstation alerts — a
// repeat inside the window bumps the open alert, a repeat after the window or after closing opens a
// new one — and read back with no agent and "collector" as their workstation.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COLLECTOR_HOSTNAME,
  type CollectorAlert,
  getAlert,
  listAlerts,
  recordCollectorAlert,
  transitionAlert,
} from '../../../collector/alerts/repository.js';
import { migrate } from '../../../collector/db/migrate.js';
import { engines, openTestDb, type TestDb } from '../../helpers/db.js';

const WINDOW_MS = 60_000;

describe.each(engines)('collector alerts on %s', (engine) => {
  let testDb: TestDb;
  beforeAll(async () => {
    testDb = await openTestDb(engine);
    await migrate(testDb.db);
  }, 180_000);
  afterAll(async () => testDb?.close());

  const alertOf = (entity: string, time: Date, evidence: Record<string, unknown> = {}): CollectorAlert => ({
    ruleId: 'vigil-test-collector-rule',
    ruleTitle: 'Collector trouble',
    level: 'high',
    tags: [],
    entity,
    time,
    evidence,
  });
  const record = (alert: CollectorAlert) =>
    testDb.db.transaction((tx) => recordCollectorAlert(tx, alert, WINDOW_MS));

  it('bumps the open alert inside the window and keeps the latest evidence', async () => {
    const entity = randomUUID();
    const t0 = new Date('2026-06-01T10:00:00Z');
    const first = await record(alertOf(entity, t0, { n: 1 }));
    const second = await record(alertOf(entity, new Date(t0.getTime() + 30_000), { n: 2 }));
    expect(first.created).toBe(true);
    expect(second).toEqual({ alertId: first.alertId, created: false });
    const alert = await getAlert(testDb.db, first.alertId);
    expect(alert).toMatchObject({
      agentId: null,
      groupId: null,
      hostname: COLLECTOR_HOSTNAME,
      entity,
      count: 2,
      firstSeen: t0.toISOString(),
      lastSeen: new Date(t0.getTime() + 30_000).toISOString(),
      evidence: { n: 2 },
    });
    // Another entity is another alert.
    const other = await record(alertOf(randomUUID(), t0));
    expect(other.created).toBe(true);
    expect(other.alertId).not.toBe(first.alertId);
  });

  it('opens a new alert after the window or after the open one was closed', async () => {
    const entity = randomUUID();
    const t0 = new Date('2026-06-02T10:00:00Z');
    const first = await record(alertOf(entity, t0));
    const late = await record(alertOf(entity, new Date(t0.getTime() + WINDOW_MS + 1_000)));
    expect(late.created).toBe(true);
    expect(late.alertId).not.toBe(first.alertId);
    await testDb.db.transaction(async (tx) => {
      const open = (await getAlert(tx, late.alertId, true))!;
      await transitionAlert(tx, open, 'resolved', 'receiver fixed', null);
    });
    const again = await record(alertOf(entity, new Date(t0.getTime() + WINDOW_MS + 2_000)));
    expect(again.created).toBe(true);
    expect(again.alertId).not.toBe(late.alertId);
    const { alerts } = await listAlerts(testDb.db, { ruleId: 'vigil-test-collector-rule', limit: 100 });
    expect(alerts.filter((a) => a.entity === entity).map((a) => a.count)).toEqual([1, 1, 1]);
  });
});
