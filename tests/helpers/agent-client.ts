// A minimal protocol client for collector tests: enroll over HTTP, then speak the stream.
import { v7 as uuidv7 } from 'uuid';
import WebSocket from 'ws';
import type { VigilEvent } from '../../shared/events.js';
import { type CollectorMessage, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { ENROLL_SECRET } from './collector.js';

export const testHost = {
  hostname: 'ws-test-01',
  os: { platform: 'linux', distro: 'Debian', release: '12', arch: 'x64' },
  systemUuid: 'test-uuid',
};

export async function enrollAgent(
  baseUrl: string,
  secret = ENROLL_SECRET,
): Promise<{ agentId: string; token: string }> {
  const res = await fetch(`${baseUrl}/api/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ secret, host: testHost, agentVersion: 'test' }),
  });
  if (res.status !== 200) throw new Error(`enroll failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { agentId: string; token: string };
}

export class TestAgent {
  readonly messages: CollectorMessage[] = [];
  private waiters: Array<() => void> = [];
  closed?: { code: number; reason: string };

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as CollectorMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(wsUrl: string, token: string, agentId: string, hello = true): Promise<TestAgent> {
    const socket = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const agent = new TestAgent(socket);
    if (hello) {
      agent.send({
        type: 'hello',
        agentId,
        agentVersion: 'test',
        protocolVersion: PROTOCOL_VERSION,
        host: testHost,
      });
      await agent.waitFor((m) => m.type === 'policy');
    }
    return agent;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  async waitFor(predicate: (m: CollectorMessage) => boolean, timeoutMs = 5000): Promise<CollectorMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (this.closed) throw new Error(`socket closed ${JSON.stringify(this.closed)}`);
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!this.closed) throw new Error('socket not closed');
    return this.closed;
  }

  close(): void {
    this.socket.close();
  }
}

export function packetSocketEvent(agentId: string, overrides: Partial<VigilEvent['data']> = {}): VigilEvent {
  return {
    id: uuidv7(),
    agentId,
    time: new Date().toISOString(),
    type: 'capture.packet_socket',
    data: {
      kind: 'packet',
      inode: 4242,
      interface: 'eth0',
      pid: 999,
      name: 'tcpdump',
      exe: '/usr/bin/tcpdump',
      user: 'root',
      ...overrides,
    },
  } as VigilEvent;
}
