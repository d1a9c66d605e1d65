import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closeCodes, limits } from '../../shared/protocol.js';
import { enrollAgent, packetSocketEvent, TestAgent, testHost } from '../helpers/agent-client.js';
import { ADMIN_TOKEN, type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';

/** The HTTP status the server answers a WebSocket upgrade with (101 when it upgrades). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => {
      resolve(101);
      socket.close();
    });
    socket.on('error', (err) => {
      if (!String(err.message).includes('Unexpected server response')) reject(err);
    });
  });
}

const count = async (c: RunningCollector, table: string) =>
  (await c.testDb.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

describe.each(engines)('agents on %s', (engine) => {
  let collector: RunningCollector;
  beforeAll(async () => {
    collector = await startCollector(engine);
  });
  afterAll(async () => collector?.close());

  it('refuses enrollment with a wrong secret and stores nothing', async () => {
    const before = await count(collector, 'agents');
    const res = await fetch(`${collector.url}/api/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secret: 'wrong', host: testHost, agentVersion: 'x' }),
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('enroll_secret_invalid');
    expect(await count(collector, 'agents')).toBe(before);
  });

  it('refuses a malformed enrollment body with a clear error', async () => {
    const res = await fetch(`${collector.url}/api/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ secret: 'x' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('validation_failed');
  });

  it('stores only a hash of the agent token', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const { rows } = await collector.testDb.db.query<{ token_hash: string }>(
      'SELECT token_hash FROM agents WHERE id = $1',
      [agentId],
    );
    expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.token_hash).not.toContain(token);
  });

  it('answers 401 before the upgrade without a token, with a bad token, or with an admin token', async () => {
    expect(await upgradeStatus(collector.wsUrl, {})).toBe(401);
    expect(await upgradeStatus(collector.wsUrl, { authorization: 'Bearer agt_nope' })).toBe(401);
    expect(await upgradeStatus(collector.wsUrl, { authorization: `Bearer ${ADMIN_TOKEN}` })).toBe(401);
    const { token } = await enrollAgent(collector.url);
    expect(await upgradeStatus(collector.wsUrl, { authorization: `Bearer ${token}` })).toBe(101);
  });

  it('stores a batch sent twice once and acks it both times', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId);
    const events = [packetSocketEvent(agentId), packetSocketEvent(agentId, { inode: 5151 })];
    agent.send({ type: 'events', seq: 7, events });
    await agent.waitFor((m) => m.type === 'ack' && m.seq === 7);
    agent.send({ type: 'events', seq: 8, events });
    await agent.waitFor((m) => m.type === 'ack' && m.seq === 8);
    const { rows } = await collector.testDb.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM events WHERE agent_id = $1',
      [agentId],
    );
    expect(rows[0]!.n).toBe(2);
    // Both events are the same tcpdump on the same agent: one alert, counted once per event.
    const alerts = await collector.testDb.db.query<{ count: number }>(
      'SELECT count FROM alerts WHERE agent_id = $1',
      [agentId],
    );
    expect(alerts.rows.map((r) => r.count)).toEqual([2]);
    agent.close();
  });

  it('counts an event repeated inside one batch once', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId);
    const event = packetSocketEvent(agentId, { exe: '/opt/repeat/sniff' });
    agent.send({ type: 'events', seq: 1, events: [event, event] });
    await agent.waitFor((m) => m.type === 'ack' && m.seq === 1);
    const alerts = await collector.testDb.db.query<{ count: number }>(
      'SELECT count FROM alerts WHERE agent_id = $1',
      [agentId],
    );
    expect(alerts.rows.map((r) => r.count)).toEqual([1]);
    agent.close();
  });

  it('stores text the database cannot hold (NUL, lone surrogates) with U+FFFD instead of refusing the batch', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId);
    const event = packetSocketEvent(agentId, { exe: '/opt/odd/sni\u0000ff', name: 'a\ud800b' });
    // JSON.stringify writes both as \u escapes, as any agent's JSON encoder would.
    agent.send({ type: 'events', seq: 1, events: [event] });
    await agent.waitFor((m) => m.type === 'ack' && m.seq === 1);
    const { rows } = await collector.testDb.db.query<{ exe: string; name: string }>(
      "SELECT data->>'exe' AS exe, data->>'name' AS name FROM events WHERE id = $1",
      [event.id],
    );
    expect(rows).toEqual([{ exe: '/opt/odd/sni\ufffdff', name: 'a\ufffdb' }]);
    agent.close();
  });

  it('refuses an event time the database could not store, naming the batch, and stores nothing', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId);
    const before = await count(collector, 'events');
    const times = ['0000-01-01T00:00:00Z', '2026-01-01T00:00:00+16:00', '2026-02-30T00:00:00Z'];
    for (const [index, time] of times.entries()) {
      agent.send({ type: 'events', seq: index + 1, events: [{ ...packetSocketEvent(agentId), time }] });
      const error = await agent.waitFor((m) => m.type === 'error' && m.seq === index + 1);
      expect(error).toMatchObject({ code: 'bad_message' });
    }
    expect(await count(collector, 'events')).toBe(before);
    agent.close();
  });

  it('answers malformed frames with an error, stores nothing, and leaves other agents alone', async () => {
    const a = await enrollAgent(collector.url);
    const b = await enrollAgent(collector.url);
    const bad = await TestAgent.connect(collector.wsUrl, a.token, a.agentId);
    const good = await TestAgent.connect(collector.wsUrl, b.token, b.agentId);
    const eventsBefore = await count(collector, 'events');

    bad.send('{not json');
    expect(await bad.waitFor((m) => m.type === 'error' && m.code === 'bad_json')).toBeTruthy();
    bad.send({ type: 'telemetry', x: 1 });
    expect(await bad.waitFor((m) => m.type === 'error' && m.code === 'unknown_type')).toBeTruthy();
    bad.send({
      type: 'events',
      seq: 3,
      events: [{ ...packetSocketEvent(a.agentId), data: { kind: 'packet', pid: 'abc' } }],
    });
    const wrongType = await bad.waitFor((m) => m.type === 'error' && m.code === 'bad_message');
    expect(wrongType).toMatchObject({ seq: 3 });
    expect((wrongType as { message: string }).message).toMatch(/pid/);
    bad.send({ type: 'events', seq: 4, events: [] });
    await bad.waitFor((m) => m.type === 'error' && m.code === 'bad_message' && m.seq === 4);
    expect(await count(collector, 'events')).toBe(eventsBefore);

    // The well-behaved agent keeps working, and so does the misbehaving one's connection.
    good.send({ type: 'events', seq: 1, events: [packetSocketEvent(b.agentId)] });
    await good.waitFor((m) => m.type === 'ack' && m.seq === 1);
    bad.send({ type: 'events', seq: 5, events: [packetSocketEvent(a.agentId)] });
    await bad.waitFor((m) => m.type === 'ack' && m.seq === 5);
    expect(await count(collector, 'events')).toBe(eventsBefore + 2);
    bad.close();
    good.close();
  });

  it('closes a connection that sends an oversized frame, without affecting others', async () => {
    const a = await enrollAgent(collector.url);
    const b = await enrollAgent(collector.url);
    const big = await TestAgent.connect(collector.wsUrl, a.token, a.agentId);
    const other = await TestAgent.connect(collector.wsUrl, b.token, b.agentId);
    big.send('x'.repeat(limits.maxFrameBytes + 10));
    expect((await big.waitClosed()).code).toBe(closeCodes.frameTooLarge);
    other.send({ type: 'heartbeat', time: new Date().toISOString() });
    other.send({ type: 'events', seq: 1, events: [packetSocketEvent(b.agentId)] });
    await other.waitFor((m) => m.type === 'ack');
    other.close();
  });

  it('refuses an unknown protocol major version with a clear reason', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId, false);
    agent.send({ type: 'hello', agentId, agentVersion: 'x', protocolVersion: '2.0', host: testHost });
    const error = await agent.waitFor((m) => m.type === 'error');
    expect(error).toMatchObject({ code: 'protocol_version' });
    expect((error as { message: string }).message).toMatch(/2\.0.*not supported/);
    expect((await agent.waitClosed()).code).toBe(closeCodes.protocolVersion);
  });

  it('accepts a batch sent right behind hello, before the hello is answered', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId, false);
    agent.send({ type: 'hello', agentId, agentVersion: 'x', protocolVersion: '1.0', host: testHost });
    agent.send({ type: 'events', seq: 1, events: [packetSocketEvent(agentId)] });
    await agent.waitFor((m) => m.type === 'ack' && m.seq === 1);
    expect(agent.closed).toBeUndefined();
    agent.close();
  });

  it('requires hello first', async () => {
    const { agentId, token } = await enrollAgent(collector.url);
    const agent = await TestAgent.connect(collector.wsUrl, token, agentId, false);
    agent.send({ type: 'events', seq: 1, events: [packetSocketEvent(agentId)] });
    expect(await agent.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'not_hello' });
    expect((await agent.waitClosed()).code).toBe(closeCodes.notHello);
  });

  it('lists alerts only with a valid token', async () => {
    expect((await fetch(`${collector.url}/api/v1/alerts`)).status).toBe(401);
    const res = await fetch(`${collector.url}/api/v1/alerts`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { alerts: { ruleTitle: string; user: string | null }[] };
    expect(body.alerts.length).toBeGreaterThan(0);
    // The list names the user; the rest of the evidence is read (and audited) one alert at a time.
    expect(body.alerts[0]!.user).toBe('root');
    expect(body.alerts[0]).not.toHaveProperty('evidence');
  });
});
