// /metrics: Prometheus text from the real ingest path and database, behind the admin role by
// default, a dedicated scrape token when VIGIL_METRICS_TOKEN is set, or open with VIGIL_METRICS_PUBLIC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import { enrollAgent, packetSocketEvent, TestAgent } from '../../helpers/agent-client.js';
import { ADMIN_TOKEN, type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';

async function scrape(
  c: RunningCollector,
  token?: string,
): Promise<{ status: number; text: string; type: string }> {
  const res = await fetch(`${c.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** The value of one sample line, e.g. `vigil_agents_connected` or `vigil_alerts_total{outcome="created"}`. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no sample ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
}

describe.each(engines)('metrics on %s', (engine) => {
  let collector: RunningCollector;
  beforeAll(async () => {
    collector = await startCollector(engine);
  });
  afterAll(async () => collector?.close());

  it('needs the admin role by default', async () => {
    expect((await scrape(collector)).status).toBe(401);
    const ok = await scrape(collector, ADMIN_TOKEN);
    expect(ok.status).toBe(200);
    expect(ok.type).toMatch(/^text\/plain/);
  });

  it('counts what the ingest path did and what the fleet holds', async () => {
    const before = await scrape(collector, ADMIN_TOKEN);
    const { agentId, token } = await enrollAgent(collector.url);
    const socket = await TestAgent.connect(collector.wsUrl, token, agentId);
    socket.send({ type: 'heartbeat', time: new Date().toISOString(), spoolDepth: 17 });
    const agent: AgentRecord = {
      id: agentId,
      groupId: 'default',
      hostname: 'ws-test-01',
      platform: 'linux',
      revoked: false,
    };
    const batch = [packetSocketEvent(agentId, { inode: 1 }), packetSocketEvent(agentId, { inode: 2 })];
    await collector.app.ingest(agent, batch);
    await collector.app.ingest(agent, batch);
    // The detection latency is read after the ack; give it a moment.
    await new Promise((r) => setTimeout(r, 300));
    const after = await scrape(collector, ADMIN_TOKEN);
    const delta = (series: string) => sample(after.text, series) - sample(before.text, series);
    expect(sample(after.text, 'vigil_agents_connected')).toBe(1);
    expect(delta('vigil_events_ingested_total')).toBe(2);
    expect(delta('vigil_events_duplicate_total')).toBe(2);
    expect(delta('vigil_ingest_batch_commit_seconds_count')).toBe(2);
    expect(delta('vigil_alerts_total{outcome="created"}')).toBe(1);
    expect(sample(after.text, 'vigil_detection_latency_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(after.text, 'vigil_agent_backlog_events')).toBe(17);
    expect(sample(after.text, 'vigil_agents{presence="online"}')).toBe(1);
    expect(sample(after.text, 'vigil_outbox_pending')).toBe(0);
    expect(sample(after.text, 'vigil_outbox_lag_seconds')).toBe(0);
    if (engine === 'postgres')
      expect(sample(after.text, 'vigil_db_pool_connections{state="total"}')).toBeGreaterThan(0);
    else expect(after.text).not.toContain('vigil_db_pool_connections{');
    socket.close();
  });
});

describe('metrics access settings', () => {
  const saved = { token: process.env.VIGIL_METRICS_TOKEN, open: process.env.VIGIL_METRICS_PUBLIC };
  afterAll(() => {
    process.env.VIGIL_METRICS_TOKEN = saved.token ?? '';
    process.env.VIGIL_METRICS_PUBLIC = saved.open ?? '';
  });

  it('takes the scrape token and only it when VIGIL_METRICS_TOKEN is set', async () => {
    process.env.VIGIL_METRICS_TOKEN = 'scrape-secret-0123456789';
    process.env.VIGIL_METRICS_PUBLIC = '';
    const collector = await startCollector(engines[0]!);
    try {
      expect((await scrape(collector)).status).toBe(401);
      expect((await scrape(collector, 'scrape-secret-wrong')).status).toBe(401);
      expect((await scrape(collector, 'scrape-secret-0123456789')).status).toBe(200);
    } finally {
      await collector.close();
    }
  }, 120_000);

  it('answers anyone when VIGIL_METRICS_PUBLIC=true', async () => {
    process.env.VIGIL_METRICS_TOKEN = '';
    process.env.VIGIL_METRICS_PUBLIC = 'true';
    const collector = await startCollector(engines[0]!);
    try {
      const open = await scrape(collector);
      expect(open.status).toBe(200);
      expect(open.text).toContain('vigil_events_ingested_total 0');
    } finally {
      await collector.close();
    }
  }, 120_000);
});
