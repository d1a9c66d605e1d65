// Simulated agents for bench/load.ts, run as a separate process: each one speaks the real protocol
// over its own WebSocket (hello → policy, batches acked after commit with credit, heartbeats), but
// without a spool or sensors, so one process can hold thousands. Reads a JSON job from the file
// named by argv[2] and writes JSON lines to stdout: `ready`, periodic `stats`, and `done`.
import { readFileSync } from 'node:fs';
import { v7 as uuidv7 } from 'uuid';
import WebSocket from 'ws';
import type { VigilEvent } from '../shared/events.js';
import { type CollectorMessage, PROTOCOL_VERSION } from '../shared/protocol.js';

export interface LoadAgentJob {
  /** Collector stream URLs; agent i starts on urls[i % urls.length]. */
  urls: string[];
  agents: Array<{ id: string; token: string }>;
  /** 'stream': send batches as fast as credit allows; 'idle': heartbeats only. */
  mode: 'stream' | 'idle';
  batchSize: number;
  heartbeatMs: number;
  durationMs: number;
  /** Move every agent to the next URL halfway through (two-collector runs). */
  switchAtMs?: number;
  /** Open connections this many at a time (a burst of 10,000 handshakes is not the test). */
  connectConcurrency: number;
}

const job = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadAgentJob;
const out = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const host = {
  hostname: 'load',
  os: { platform: 'linux', distro: 'bench', release: '1', arch: 'x64' },
  systemUuid: 'load',
};

let acked = 0;
let sentBatches = 0;
let errors = 0;
/** ms from the creation of a batch (and its matching event) to its ack, i.e. to the alert's commit. */
const ackLatencies: number[] = [];
let stopping = false;

class SimAgent {
  private socket: WebSocket | undefined;
  private seq = 0;
  private credit = 4;
  private readonly inFlight = new Map<number, { created: number; events: number }>();
  private heartbeat: NodeJS.Timeout | undefined;
  ready = false;

  constructor(
    private readonly id: string,
    private readonly token: string,
    private url: string,
    private readonly index: number,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve) => {
      const socket = new WebSocket(this.url, { headers: { authorization: `Bearer ${this.token}` } });
      this.socket = socket;
      socket.on('open', () => {
        socket.send(
          JSON.stringify({
            type: 'hello',
            agentId: this.id,
            agentVersion: 'load',
            protocolVersion: PROTOCOL_VERSION,
            host,
          }),
        );
      });
      socket.on('message', (data) =>
        this.onMessage(JSON.parse(data.toString()) as CollectorMessage, resolve),
      );
      socket.on('error', () => {
        errors++;
        resolve();
      });
      socket.on('close', () => {
        clearInterval(this.heartbeat);
        this.ready = false;
        this.inFlight.clear();
        resolve();
        if (!stopping) setTimeout(() => void this.connect(), 500 + Math.random() * 1500);
      });
    });
  }

  moveTo(url: string): void {
    this.url = url;
    this.socket?.close(1000, 'moving');
  }

  /** Stops sending anything, as a dead machine would: no stop message, the socket just goes. */
  kill(): void {
    clearInterval(this.heartbeat);
    this.socket?.removeAllListeners('close');
    this.socket?.terminate();
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.socket?.close(1000, 'done');
  }

  private onMessage(message: CollectorMessage, resolve: () => void): void {
    if (message.type === 'policy') {
      if (!this.ready) {
        this.ready = true;
        this.heartbeat = setInterval(
          () =>
            this.socket?.send(
              JSON.stringify({ type: 'heartbeat', time: new Date().toISOString(), spoolDepth: 0 }),
            ),
          job.heartbeatMs,
        );
        resolve();
        if (job.mode === 'stream') this.pump();
      }
      return;
    }
    if (message.type === 'ack') {
      const batch = this.inFlight.get(message.seq);
      if (batch) {
        this.inFlight.delete(message.seq);
        acked += batch.events;
        ackLatencies.push(Date.now() - batch.created);
      }
      if (message.credit !== undefined) this.credit = Math.max(1, message.credit);
      this.pump();
      return;
    }
    if (message.type === 'error') errors++;
  }

  private pump(): void {
    while (!stopping && this.ready && this.inFlight.size < this.credit) {
      const seq = ++this.seq;
      const created = Date.now();
      const events = this.batch(created);
      this.inFlight.set(seq, { created, events: events.length });
      sentBatches++;
      this.socket?.send(JSON.stringify({ type: 'events', seq, events }));
    }
  }

  /** One matching event (a packet socket held by this agent's "sniffer", bumping one alert) and
   * ordinary process starts. */
  private batch(created: number): VigilEvent[] {
    const time = new Date(created).toISOString();
    const events: VigilEvent[] = [
      {
        id: uuidv7(),
        agentId: this.id,
        time,
        type: 'capture.packet_socket',
        data: {
          kind: 'packet',
          pid: 4242,
          name: 'loadsniff',
          exe: `/opt/load/sniff-${this.index % 8}`,
          user: 'root',
        },
      },
    ];
    for (let i = 1; i < job.batchSize; i++) {
      events.push({
        id: uuidv7(),
        agentId: this.id,
        time,
        type: 'agent.error',
        data: { code: 'load', message: `background event ${i}` },
      });
    }
    return events;
  }
}

const agents = job.agents.map((a, i) => new SimAgent(a.id, a.token, job.urls[i % job.urls.length]!, i));
const connectStart = Date.now();
for (let i = 0; i < agents.length; i += job.connectConcurrency) {
  await Promise.all(agents.slice(i, i + job.connectConcurrency).map((a) => a.connect()));
}
out({ type: 'ready', connected: agents.filter((a) => a.ready).length, connectMs: Date.now() - connectStart });

process.stdin.setEncoding('utf8');
process.stdin.on('data', (text: string) => {
  for (const command of text.split('\n').filter(Boolean)) {
    if (command === 'kill-one') {
      agents[0]?.kill();
      out({ type: 'killed', agentId: job.agents[0]?.id, at: Date.now() });
    }
  }
});

const started = Date.now();
const stats = setInterval(() => {
  out({
    type: 'stats',
    acked,
    sentBatches,
    errors,
    connected: agents.filter((a) => a.ready).length,
    ms: Date.now() - started,
  });
}, 1000);
if (job.switchAtMs !== undefined) {
  setTimeout(() => {
    agents.forEach((a, i) => {
      a.moveTo(job.urls[(i + 1) % job.urls.length]!);
    });
  }, job.switchAtMs);
}
setTimeout(() => {
  stopping = true;
  clearInterval(stats);
  const sorted = [...ackLatencies].sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
  out({
    type: 'done',
    acked,
    sentBatches,
    errors,
    ms: Date.now() - started,
    p50: pct(50),
    p95: pct(95),
    p99: pct(99),
  });
  for (const a of agents) a.close();
  setTimeout(() => process.exit(0), 500);
}, job.durationMs);
