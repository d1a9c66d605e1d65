// The agent's link against a real collector: spooled events are delivered and leave the spool
// only when acked; a dropped connection is resumed and in-flight batches are resent; a revoked
// agent is told so and stops; while throttled, only live events go out.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../../agent/identity.js';
import { DEFAULT_BACKOFF, Link, reconnectDelayMs } from '../../agent/link.js';
import { Spool } from '../../agent/spool.js';
import type { VigilEvent } from '../../shared/events.js';
import { closeCodes } from '../../shared/protocol.js';
import { enrollAgent, testHost } from '../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';

const log = pino({ level: process.env.LINK_DEBUG ? 'debug' : 'silent' });
const wait = async (what: string, check: () => Promise<boolean> | boolean, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('agent link', () => {
  let collector: RunningCollector;
  const dirs: string[] = [];
  beforeAll(async () => {
    collector = await startCollector(engines[0]!);
  });
  afterAll(async () => {
    await collector?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function setup(heartbeatIntervalMs: number | (() => number) = 60_000) {
    const { agentId, token } = await enrollAgent(collector.url);
    const identity: Identity = {
      agentId,
      token,
      group: 'default',
      collectorUrl: collector.url,
      enrolledAt: new Date().toISOString(),
    };
    const dir = mkdtempSync(join(tmpdir(), 'vigil-link-'));
    dirs.push(dir);
    const spool = Spool.open({ dir, agentId, log });
    const link = new Link({
      identity,
      host: testHost,
      agentVersion: 'test',
      spool,
      tls: { rejectUnauthorized: true },
      log,
      policyRevision: () => undefined,
      heartbeatIntervalMs:
        typeof heartbeatIntervalMs === 'function' ? heartbeatIntervalMs : () => heartbeatIntervalMs,
      backoff: { baseMs: 50, capMs: 200 },
    });
    const event = (n: number): VigilEvent => ({
      id: uuidv7(),
      agentId,
      time: new Date().toISOString(),
      type: 'capture.promiscuous',
      // Left promiscuous mode: stored, but raises no alert, so this measures delivery alone.
      data: { interface: `eth${n}`, promiscuous: false },
    });
    const stored = async () =>
      (
        await collector.testDb.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM events WHERE agent_id = $1',
          [agentId],
        )
      ).rows[0]!.n;
    return { agentId, spool, link, event, stored };
  }

  it('delivers spooled events and empties the spool only on ack', async () => {
    const { spool, link, event, stored } = await setup();
    spool.append(Array.from({ length: 1200 }, (_, i) => event(i)));
    link.start();
    await wait('all stored', async () => (await stored()) === 1200).catch(async (e) => {
      throw new Error(
        `${e.message}: stored ${await stored()}, spool ${JSON.stringify(spool.depth())}, connected ${link.connected}`,
      );
    });
    await wait('spool drained', () => spool.depth().events === 0);
    await link.stop();
    spool.close();
  });

  it('resumes after the connection drops and resends what was in flight', async () => {
    const { agentId, spool, link, event, stored } = await setup();
    link.start();
    await wait('connected', () => link.connected);
    collector.app.agentSessions.get(agentId)!.close(1011, 'test drop');
    spool.append(Array.from({ length: 50 }, (_, i) => event(i)));
    link.kick();
    await wait(
      'reconnected and delivered',
      async () => (await stored()) === 50 && spool.depth().events === 0,
    );
    await link.stop();
    spool.close();
  });

  it('drops a connection that stopped answering and resends over a new one', async () => {
    const { agentId, spool, link, event, stored } = await setup(300);
    link.start();
    await wait('connected', () => link.connected);
    const first = collector.app.agentSessions.get(agentId)!;
    // The collector's end stops reading, like a cable pulled mid-connection: TCP stays "open".
    (first as unknown as { socket: { _socket: { pause(): void } } }).socket._socket.pause();
    spool.append([event(1), event(2)]);
    link.kick();
    await wait('a new session', () => {
      const current = collector.app.agentSessions.get(agentId);
      return current !== undefined && current !== first;
    });
    await wait(
      'delivered over the new session',
      async () => (await stored()) === 2 && spool.depth().events === 0,
    );
    await link.stop();
    spool.close();
  });

  it('stops for good when the agent is revoked', async () => {
    const { agentId, spool, link } = await setup();
    const revoked = new Promise<string>((resolve) => link.once('revoked', resolve));
    link.start();
    await wait('connected', () => link.connected);
    await collector.testDb.db.query('UPDATE agents SET revoked_at = now() WHERE id = $1', [agentId]);
    collector.app.agentSessions
      .get(agentId)!
      .close(closeCodes.revoked, 'this agent was revoked; enroll it again');
    expect(await revoked).toMatch(/revoked/);
    await new Promise((r) => setTimeout(r, 500));
    expect(link.connected).toBe(false);
    await link.stop();
    spool.close();
  });

  it('sends only live events while the collector asks it to hold back', async () => {
    const { agentId, spool, link, event, stored } = await setup();
    link.start();
    await wait('connected', () => link.connected);
    // The collector's throttle message, as the gateway sends it under load.
    collector.app.agentSessions.get(agentId)!.send({ type: 'throttle', retryAfterMs: 1500 });
    await new Promise((r) => setTimeout(r, 100));
    spool.append([event(1), event(2)]);
    spool.append([event(3)], { live: true });
    link.kick();
    await wait('live event stored', async () => (await stored()) === 1);
    expect(spool.depth().events).toBe(2);
    await wait('backlog after the pause', async () => (await stored()) === 3, 5000);
    await link.stop();
    spool.close();
  });

  it('applies a new heartbeat interval at once, without reconnecting', async () => {
    let intervalMs = 60_000;
    const { agentId, spool, link } = await setup(() => intervalMs);
    link.start();
    await wait('connected', () => link.connected);
    const session = collector.app.agentSessions.get(agentId)!;
    const serverSocket = (session as unknown as { socket: import('ws').WebSocket }).socket;
    let pings = 0;
    serverSocket.on('ping', () => pings++);
    await new Promise((r) => setTimeout(r, 700));
    expect(pings).toBe(0);
    // A policy with a shorter interval arrives: the agent calls refreshHeartbeat when applying it.
    intervalMs = 150;
    link.refreshHeartbeat();
    await wait('heartbeats at the new interval', () => pings >= 3, 5000);
    expect(collector.app.agentSessions.get(agentId)).toBe(session);
    await link.stop();
    spool.close();
  });
});

describe('reconnect backoff', () => {
  it('doubles from the base with equal jitter, capped at about a minute', () => {
    const low = (attempt: number) => reconnectDelayMs(attempt, DEFAULT_BACKOFF, false, () => 0);
    const high = (attempt: number) => reconnectDelayMs(attempt, DEFAULT_BACKOFF, false, () => 0.999999);
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 1000, capMs: 60_000 });
    expect([0, 1, 2, 3, 4, 5].map(low)).toEqual([500, 1000, 2000, 4000, 8000, 16_000]);
    expect(high(0)).toBeCloseTo(1000, 0);
    expect(high(5)).toBeCloseTo(32_000, 0);
    // From attempt 6 on the ceiling is the cap: between 30 s and 60 s, never more, however long.
    for (const attempt of [6, 7, 20, 1000]) {
      expect(low(attempt)).toBe(30_000);
      expect(high(attempt)).toBeLessThanOrEqual(60_000);
      expect(high(attempt)).toBeGreaterThan(59_999);
    }
    // Real jitter spreads a fleet: 1000 draws for the same attempt are not all alike.
    const draws = new Set(Array.from({ length: 1000 }, () => Math.round(reconnectDelayMs(3))));
    expect(draws.size).toBeGreaterThan(100);
    for (const delay of draws) expect(delay >= 4000 && delay <= 8000).toBe(true);
    // A refused protocol version waits the whole cap.
    expect(reconnectDelayMs(0, DEFAULT_BACKOFF, true)).toBe(60_000);
  });
});
