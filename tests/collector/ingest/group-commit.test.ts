// Group commit: batches that wait while a transaction is in flight are committed together, each
// still gets its own result, and a batch the database refuses fails alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IngestResult } from '../../../collector/ingest/plugin.js';
import { packetSocketEvent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { enrolledAgent } from '../alerts/fixtures.js';

describe.each(engines)('group commit on %s', (engine) => {
  let collector: RunningCollector;
  beforeAll(async () => {
    // One transaction at a time on both engines: every batch pushed behind the first waits and
    // joins one group.
    collector = await startCollector(engine, { ingestConcurrency: 1 });
  });
  afterAll(async () => collector?.close());

  it('gives every batch of a group its own result, alerts and presence', async () => {
    const agents = await Promise.all(Array.from({ length: 6 }, () => enrolledAgent(collector)));
    const batches = agents.map(({ id }, i) => [
      packetSocketEvent(id, { exe: `/opt/group/sniff-${i}` }),
      packetSocketEvent(id, { exe: `/opt/group/sniff-${i}`, inode: 77 }),
    ]);
    // The first batch is sent twice: its second copy rides in the group and stores nothing.
    const results = await Promise.all([
      ...batches.map((events, i) => collector.app.ingest(agents[i]!, events)),
      collector.app.ingest(agents[0]!, batches[0]!),
    ]);
    for (const [i, result] of results.slice(0, 6).entries()) {
      expect(result).toMatchObject({ stored: 2, duplicates: 0, alertsUpdated: [] });
      expect(result.alertsCreated).toHaveLength(1);
      const { rows } = await collector.testDb.db.query<{ id: string; count: number; agent_id: string }>(
        'SELECT id, count, agent_id FROM alerts WHERE id = $1',
        [result.alertsCreated[0]],
      );
      expect(rows).toEqual([{ id: result.alertsCreated[0], count: 2, agent_id: agents[i]!.id }]);
    }
    expect(results[6]).toEqual<IngestResult>({
      stored: 0,
      duplicates: 2,
      alertsCreated: [],
      alertsUpdated: [],
    });
    const { rows: links } = await collector.testDb.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM alert_events WHERE alert_id = ANY($1::uuid[])',
      [results.slice(0, 6).map((r) => r.alertsCreated[0])],
    );
    expect(links[0]!.n).toBe(12);
    const { rows: online } = await collector.testDb.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM agents WHERE id = ANY($1::uuid[]) AND presence = 'online' AND last_seen IS NOT NULL",
      [agents.map((a) => a.id)],
    );
    expect(online[0]!.n).toBe(6);
  });

  it('commits waiting batches in fewer transactions than batches', async () => {
    const agents = await Promise.all(Array.from({ length: 20 }, () => enrolledAgent(collector)));
    const events = agents.map(({ id }) => packetSocketEvent(id));
    await Promise.all(events.map((event, i) => collector.app.ingest(agents[i]!, [event])));
    // Rows written by one transaction share its id (xmin).
    const { rows } = await collector.testDb.db.query<{ n: number }>(
      'SELECT count(DISTINCT xmin::text)::int AS n FROM events WHERE id = ANY($1::uuid[])',
      [events.map((e) => e.id)],
    );
    expect(rows[0]!.n).toBeGreaterThan(0);
    expect(rows[0]!.n).toBeLessThanOrEqual(2);
  });

  it('fails only the batch the database refuses; the rest of its group is stored', async () => {
    const agents = await Promise.all(Array.from({ length: 3 }, () => enrolledAgent(collector)));
    const [first, refused, third] = agents.map(({ id }) => [packetSocketEvent(id, { exe: '/opt/poison/x' })]);
    // NUL cannot be stored in jsonb: the gateway replaces it, app.ingest called directly does not.
    refused![0]!.data = { ...refused![0]!.data, name: 'nul\u0000here' } as never;
    const settled = await Promise.allSettled([
      collector.app.ingest(agents[0]!, first!),
      collector.app.ingest(agents[1]!, refused!),
      collector.app.ingest(agents[2]!, third!),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const { rows } = await collector.testDb.db.query<{ agent_id: string }>(
      'SELECT agent_id FROM events WHERE id = ANY($1::uuid[]) ORDER BY agent_id',
      [[first![0]!.id, refused![0]!.id, third![0]!.id]],
    );
    expect(rows.map((r) => r.agent_id).sort()).toEqual([agents[0]!.id, agents[2]!.id].sort());
    const { rows: alerts } = await collector.testDb.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM alerts WHERE agent_id = $1',
      [agents[1]!.id],
    );
    expect(alerts[0]!.n).toBe(0);
  });
});
