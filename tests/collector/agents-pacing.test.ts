// Pacing: while many batches are being stored, acks grant one batch in flight instead of four, and
// past the hard limit agents are told to hold back for a while — a fleet replaying full spools
// after an outage waits on the workstations, not in the collector.
import { afterEach, describe, expect, it } from 'vitest';
import { enrollAgent, TestAgent } from '../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';
import { processStart } from './alerts/fixtures.js';

const BATCHES_PER_AGENT = 4;
const EVENTS_PER_BATCH = 200;

async function replayFleet(collector: RunningCollector, agents: number) {
  const fleet: { socket: TestAgent; agentId: string }[] = [];
  for (let i = 0; i < agents; i++) {
    const { agentId, token } = await enrollAgent(collector.url);
    fleet.push({ socket: await TestAgent.connect(collector.wsUrl, token, agentId), agentId });
  }
  // Every agent sends its backlog at once, as after a collector outage.
  for (const { socket, agentId } of fleet) {
    for (let seq = 1; seq <= BATCHES_PER_AGENT; seq++) {
      const events = Array.from({ length: EVENTS_PER_BATCH }, (_, i) =>
        processStart(agentId, `/usr/bin/tool-${seq}-${i}`),
      );
      socket.send({ type: 'events', seq, events });
    }
  }
  const sockets = fleet.map((member) => member.socket);
  for (const socket of sockets)
    for (let seq = 1; seq <= BATCHES_PER_AGENT; seq++)
      await socket.waitFor((m) => m.type === 'ack' && m.seq === seq, 30_000);
  const messages = sockets.flatMap((s) => s.messages);
  for (const socket of sockets) socket.close();
  return {
    credits: messages.flatMap((m) => (m.type === 'ack' ? [m.credit] : [])),
    throttles: messages.filter((m) => m.type === 'throttle') as { retryAfterMs: number }[],
  };
}

describe('ingest pacing', () => {
  let collector: RunningCollector | undefined;
  afterEach(async () => collector?.close());

  it('grants less credit and asks agents to hold back while the collector is saturated', async () => {
    collector = await startCollector(engines[0]!, { ingestSoftLimit: 1, ingestHardLimit: 3 });
    const { credits, throttles } = await replayFleet(collector, 6);
    expect(credits).toHaveLength(6 * BATCHES_PER_AGENT);
    expect(credits).toContain(1);
    expect(throttles.length).toBeGreaterThan(0);
    for (const t of throttles) {
      expect(t.retryAfterMs).toBeGreaterThanOrEqual(1000);
      expect(t.retryAfterMs).toBeLessThanOrEqual(5000);
    }
  }, 60_000);

  it('grants full credit and no pause to one agent on an idle collector', async () => {
    collector = await startCollector(engines[0]!);
    const { credits, throttles } = await replayFleet(collector, 1);
    expect(credits.every((c) => c === 4)).toBe(true);
    expect(throttles).toEqual([]);
  }, 60_000);
});
