// Events partitioned by day: migration 005 moves an existing database forward with its events,
// ingest stays exactly-once, the maintenance job creates days ahead, retention drops only whole old
// days (alerts and their evidence links stay) and the jobs' locks make a second collector skip.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import { type Db, openEmbedded, openPostgres } from '../../../collector/db/db.js';
import { loadMigrations, migrate } from '../../../collector/db/migrate.js';
import {
  dropExpiredEventPartitions,
  ensureEventPartitions,
  listEventPartitions,
} from '../../../collector/lifecycle/partitions.js';
import { enrollAgent, packetSocketEvent } from '../../helpers/agent-client.js';
import { ADMIN_TOKEN, type RunningCollector, startCollector } from '../../helpers/collector.js';
import { type Engine, engines, freshPostgres } from '../../helpers/db.js';

const DAY = 24 * 60 * 60 * 1000;

/** A database with no schema at all (test helpers may hand out migrated ones). */
async function emptyDb(engine: Engine): Promise<{ db: Db; close: () => Promise<void> }> {
  if (engine === 'postgres') {
    const { url, drop } = await freshPostgres();
    const db = openPostgres(url);
    return {
      db,
      close: async () => {
        await db.close();
        await drop();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-lifecycle-'));
  const db = await openEmbedded(dir);
  return {
    db,
    close: async () => {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
const dayName = (time: Date) => `events_p${time.toISOString().slice(0, 10).replaceAll('-', '')}`;

describe.each(engines)('event lifecycle on %s', (engine) => {
  it('migrates a database at 004 with events forward, keeping every row', async () => {
    const testDb = await emptyDb(engine);
    try {
      const { db } = testDb;
      await migrate(
        db,
        loadMigrations().filter((m) => m.version <= 4),
      );
      const agentId = '0b4f8a52-8a5e-4c1e-9d59-2b0c3c1c0a01';
      await db.query(`INSERT INTO agent_groups (id, name) VALUES ('default', 'Default')`);
      await db.query(
        `INSERT INTO agents (id, group_id, token_hash, hostname) VALUES ($1, 'default', 'h', 'ws-1')`,
        [agentId],
      );
      const times = [new Date(Date.now() - 40 * DAY), new Date(Date.now() - 3 * DAY), new Date()];
      const ids = times.map(() => uuidv7());
      for (const [i, time] of times.entries()) {
        await db.query(
          `INSERT INTO events (id, agent_id, time, type, data) VALUES ($1, $2, $3, 'process.start', $4)`,
          [ids[i], agentId, time, JSON.stringify({ pid: i })],
        );
      }
      expect(await migrate(db)).toContain('005_lifecycle');
      const { rows } = await db.query<{ id: string; part: string }>(
        'SELECT id, tableoid::regclass::text AS part FROM events ORDER BY time',
      );
      expect(rows.map((r) => r.id)).toEqual(ids);
      expect(rows.map((r) => r.part)).toEqual(times.map(dayName));
      const partitions = await listEventPartitions(db);
      expect(partitions).toContain('events_default');
      expect(partitions).toContain(dayName(new Date(Date.now() + 7 * DAY)));
      expect(await migrate(db)).toEqual([]);
    } finally {
      await testDb.close();
    }
  }, 120_000);

  describe('with a running collector', () => {
    let collector: RunningCollector;
    let agent: AgentRecord;
    beforeAll(async () => {
      collector = await startCollector(engine);
      const { agentId } = await enrollAgent(collector.url);
      agent = { id: agentId, groupId: 'default', hostname: 'ws-test-01', platform: 'linux', revoked: false };
    });
    afterAll(async () => collector?.close());

    it('stores a batch sent twice exactly once and raises one alert', async () => {
      const batch = [packetSocketEvent(agent.id, { inode: 1 }), packetSocketEvent(agent.id, { inode: 2 })];
      const first = await collector.app.ingest(agent, batch);
      const second = await collector.app.ingest(agent, batch);
      expect([first.stored, first.duplicates]).toEqual([2, 0]);
      expect([
        second.stored,
        second.duplicates,
        second.alertsCreated.length,
        second.alertsUpdated.length,
      ]).toEqual([0, 2, 0, 0]);
      const { rows } = await collector.testDb.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM events WHERE id = ANY($1::uuid[])',
        [batch.map((e) => e.id)],
      );
      expect(rows[0]!.n).toBe(2);
      const alerts = await collector.testDb.db.query<{ count: number }>(
        `SELECT count FROM alerts WHERE agent_id = $1 AND entity = '/usr/bin/tcpdump'`,
        [agent.id],
      );
      expect(alerts.rows).toEqual([{ count: 2 }]);
    });

    it('stores an event of a day without a partition in the default partition, and moves it when the day is created', async () => {
      const future = new Date(Date.now() + 20 * DAY);
      const event = { ...packetSocketEvent(agent.id, { inode: 3 }), time: future.toISOString() };
      await collector.app.ingest(agent, [event]);
      const where = async () =>
        (
          await collector.testDb.db.query<{ part: string }>(
            'SELECT tableoid::regclass::text AS part FROM events WHERE id = $1',
            [event.id],
          )
        ).rows.map((r) => r.part);
      expect(await where()).toEqual(['events_default']);
      const created = await ensureEventPartitions(collector.testDb.db, { daysAhead: 0, now: future });
      expect(created).toEqual({ ran: true, result: [dayName(future)] });
      expect(await where()).toEqual([dayName(future)]);
    });

    it('drops whole days past retention only; the alert stays and its detail still answers', async () => {
      const { db } = collector.testDb;
      const old = new Date(Date.now() - 40 * DAY);
      const edge = new Date(Date.now() - 29 * DAY);
      await ensureEventPartitions(db, { daysAhead: 0, now: old });
      await ensureEventPartitions(db, { daysAhead: 0, now: edge });
      const oldEvent = {
        ...packetSocketEvent(agent.id, { exe: '/opt/old/sniffer', name: 'sniffer' }),
        time: old.toISOString(),
      };
      const edgeEvent = { ...packetSocketEvent(agent.id, { inode: 5 }), time: edge.toISOString() };
      const straggler = {
        ...packetSocketEvent(agent.id, { inode: 6 }),
        time: new Date(Date.now() - 60 * DAY).toISOString(),
      };
      const result = await collector.app.ingest(agent, [oldEvent, edgeEvent, straggler]);
      const alertId = result.alertsCreated[0]!;
      expect(alertId).toBeDefined();
      const todayBefore = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n;

      const dropped = await dropExpiredEventPartitions(db, { retentionDays: 30 });
      expect(dropped.ran).toBe(true);
      expect(dropped.result).toContain(dayName(old));
      expect(dropped.result).not.toContain(dayName(edge));
      const partitions = await listEventPartitions(db);
      expect(partitions).not.toContain(dayName(old));
      expect(partitions).toContain(dayName(edge));
      expect(partitions).toContain(dayName(new Date()));
      const remaining = await db.query<{ id: string }>('SELECT id FROM events WHERE id = ANY($1::uuid[])', [
        [oldEvent.id, edgeEvent.id, straggler.id],
      ]);
      expect(remaining.rows.map((r) => r.id)).toEqual([edgeEvent.id]);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n).toBe(
        todayBefore - 2,
      );

      const res = await fetch(`${collector.url}/api/v1/alerts/${alertId}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
      const detail = (await res.json()) as { id?: string; alert?: { id: string } };
      expect(detail.alert?.id ?? detail.id).toBe(alertId);
    });

    it.runIf(engine === 'postgres')('skips a job another collector is running', async () => {
      const other = new pg.Client({ connectionString: collector.testDb.databaseUrl });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query('SELECT pg_advisory_xact_lock(746202006)');
        expect(await dropExpiredEventPartitions(collector.testDb.db, { retentionDays: 30 })).toEqual({
          ran: false,
          result: [],
        });
        await other.query('COMMIT');
        expect((await dropExpiredEventPartitions(collector.testDb.db, { retentionDays: 30 })).ran).toBe(true);
      } finally {
        await other.end();
      }
    });
  });
});
