// Load benchmark of the collector on PostgreSQL. Run after a build:
//   node dist/bench/load.js [--agents-idle 10000] [--agents-stream 40] [--batch 100] [--seconds 15]
// Simulated agents (dist/bench/load-agent.js) run in separate processes and speak the real protocol
// over real WebSockets. Prints one table:
//  (a) sustained ingest events/s through a collector, next to the raw batched-insert rate of the
//      same database and batches (INSERT … SELECT FROM jsonb_to_recordset, no collector);
//  (b) N idle agents with heartbeats on one collector: its RSS, and the time to raise the
//      "agent silent" alert for an agent that stops;
//  (c) p95 event→alert latency under the (a) load (batch created → acked; the alert commits in the
//      same transaction as the ack);
//  (d) two collector processes on one database with agents moving between them halfway: throughput,
//      and duplicate alerts (must be 0).
// Needs PostgreSQL (DATABASE_URL's server, default postgres://postgres@127.0.0.1:5432/postgres);
// creates and drops its own databases.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { buildApp } from '../collector/app.js';
import { hashToken } from '../collector/auth/tokens.js';
import type { CollectorConfig } from '../collector/config.js';
import type { LoadAgentJob } from './load-agent.js';
import { freePort, freshDatabase } from './support.js';

const { values } = parseArgs({
  options: {
    'agents-idle': { type: 'string', default: '10000' },
    'agents-stream': { type: 'string', default: '40' },
    batch: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '15' },
    skip: { type: 'string', default: '' },
  },
});
const IDLE_AGENTS = Number(values['agents-idle']);
const STREAM_AGENTS = Number(values['agents-stream']);
const BATCH = Number(values.batch);
const RUN_MS = Number(values.seconds) * 1000;
const skip = new Set((values.skip ?? '').split(',').filter(Boolean));
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const distDir = path.resolve(import.meta.dirname, '..');
const SILENT_RULE = '2f6b1a52-6c1e-4b8e-9a54-1f1c7c2d9e01';
const rows: Array<[string, string, string]> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

function config(port: number, databaseUrl: string, dataDir: string): CollectorConfig {
  return {
    port,
    host: '127.0.0.1',
    databaseUrl,
    dataDir,
    enrollSecret: 'load-secret',
    adminToken: 'vgl_load_admin',
    logLevel: 'error',
    alertDedupWindowMs: 3_600_000,
    agentSilentAfterMs: 45_000,
    agentReconnectGraceMs: 75_000,
    presenceCheckIntervalMs: 5000,
    ingestSoftLimit: 8,
    ingestHardLimit: 32,
  };
}

/** Agents inserted directly with their token hashes: enrolling 10,000 over HTTP is not the test. */
async function provisionAgents(
  db: pg.Pool,
  count: number,
  prefix: string,
): Promise<Array<{ id: string; token: string }>> {
  const agents = Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    token: `agt_${prefix}_${i}_${randomBytes(8).toString('hex')}`,
  }));
  for (let i = 0; i < agents.length; i += 2000) {
    const slice = agents.slice(i, i + 2000);
    await db.query(
      `INSERT INTO agents (id, group_id, token_hash, hostname, platform)
       SELECT id, 'default', token_hash, hostname, 'linux'
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS x(id, token_hash, hostname)`,
      [
        slice.map((a) => a.id),
        slice.map((a) => hashToken(a.token)),
        slice.map((_, k) => `${prefix}-${i + k}`),
      ],
    );
  }
  return agents;
}

/** What a load-agent process reports: once its agents are connected, and when its run is done. */
interface AgentsReady {
  connected: number;
  connectMs: number;
}
interface AgentsDone {
  acked: number;
  errors: number;
  ms: number;
  p50: number;
  p95: number;
  p99: number;
}

interface AgentRun {
  child: ChildProcess;
  ready: Promise<AgentsReady>;
  done: Promise<AgentsDone>;
  send(command: string): void;
}

function runAgents(job: LoadAgentJob, dir: string): AgentRun {
  const jobFile = path.join(dir, `job-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(jobFile, JSON.stringify(job));
  const child = spawn(
    process.execPath,
    ['--max-old-space-size=4096', path.join(distDir, 'bench/load-agent.js'), jobFile],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines = createInterface({ input: child.stdout! });
  let onReady: (value: AgentsReady) => void = () => {};
  let onDone: (value: AgentsDone) => void = () => {};
  const ready = new Promise<AgentsReady>((resolve) => {
    onReady = resolve;
  });
  const done = new Promise<AgentsDone>((resolve) => {
    onDone = resolve;
  });
  lines.on('line', (line) => {
    const message = JSON.parse(line) as { type: string } & Record<string, number>;
    if (message.type === 'ready') onReady(message as never);
    if (message.type === 'done') onDone(message as never);
  });
  return { child, ready, done, send: (command) => child.stdin!.write(`${command}\n`) };
}

function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** (a, raw) The same batches straight into the events table over `concurrency` connections. */
async function rawInsertRate(url: string, agentIds: string[], concurrency: number): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: concurrency });
  const insert = `INSERT INTO events (id, agent_id, time, type, data)
    SELECT id, agent_id, time, type, data
      FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, agent_id uuid, time timestamptz, type text, data jsonb)
    ON CONFLICT (id, time) DO NOTHING RETURNING id`;
  let stored = 0;
  const deadline = Date.now() + RUN_MS;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      const agentId = agentIds[worker % agentIds.length]!;
      while (Date.now() < deadline) {
        const time = new Date().toISOString();
        const batch = [
          {
            id: uuidv7(),
            agent_id: agentId,
            time,
            type: 'capture.packet_socket',
            data: { kind: 'packet', pid: 4242, name: 'loadsniff', exe: '/opt/load/sniff', user: 'root' },
          },
          ...Array.from({ length: BATCH - 1 }, (_, i) => ({
            id: uuidv7(),
            agent_id: agentId,
            time,
            type: 'agent.error',
            data: { code: 'load', message: `background event ${i + 1}` },
          })),
        ];
        const result = await pool.query(insert, [JSON.stringify(batch)]);
        stored += result.rowCount ?? 0;
      }
    }),
  );
  const rate = stored / ((Date.now() - started) / 1000);
  await pool.end();
  return rate;
}

async function singleCollector(work: string): Promise<void> {
  const database = await freshDatabase(adminUrl, 'vigil_load');
  const port = await freePort();
  const app = await buildApp(config(port, database.url, path.join(work, 'one')), {
    logger: { level: 'error' },
  });
  await app.listen({ port, host: '127.0.0.1' });
  const db = new pg.Pool({ connectionString: database.url, max: 2 });
  const wsUrl = `ws://127.0.0.1:${port}/api/v1/agents/stream`;
  try {
    if (!skip.has('a')) {
      const streamers = await provisionAgents(db, STREAM_AGENTS, 'stream');
      const raw = await rawInsertRate(
        database.url,
        streamers.map((a) => a.id),
        Math.min(STREAM_AGENTS, 8),
      );
      const before = Number((await db.query('SELECT count(*) AS n FROM events')).rows[0].n);
      const run = runAgents(
        {
          urls: [wsUrl],
          agents: streamers,
          mode: 'stream',
          batchSize: BATCH,
          heartbeatMs: 15_000,
          durationMs: RUN_MS,
          connectConcurrency: 50,
        },
        work,
      );
      await run.ready;
      const result = await run.done;
      const after = Number((await db.query('SELECT count(*) AS n FROM events')).rows[0].n);
      const ingest = result.acked / (result.ms / 1000);
      rows.push([
        '(a) raw batched INSERT, same DB and batches',
        `${fmt(raw)} events/s`,
        `${BATCH}/batch, ${Math.min(STREAM_AGENTS, 8)} connections`,
      ]);
      rows.push([
        '(a) ingest through the collector',
        `${fmt(ingest)} events/s`,
        `${fmt(ingest / raw, 2)}× raw (target ≥ 0.5); ${STREAM_AGENTS} agents, ${fmt(after - before)} stored, ${result.errors} errors`,
      ]);
      rows.push([
        '(c) event→alert latency under (a) load',
        `p95 ${fmt(result.p95)} ms`,
        `p50 ${fmt(result.p50)} ms, p99 ${fmt(result.p99)} ms`,
      ]);
    }
    if (!skip.has('b')) {
      const idle = await provisionAgents(db, IDLE_AGENTS, 'idle');
      const rssBefore = process.memoryUsage().rss;
      const run = runAgents(
        {
          urls: [wsUrl],
          agents: idle,
          mode: 'idle',
          batchSize: 1,
          heartbeatMs: 15_000,
          durationMs: 240_000,
          connectConcurrency: 200,
        },
        work,
      );
      const ready = await run.ready;
      await sleep(20_000);
      const rss = process.memoryUsage().rss;
      rows.push([
        `(b) ${fmt(IDLE_AGENTS)} agents with 15 s heartbeats`,
        `${fmt(app.agentSessions.size)} connected`,
        `collector RSS ${fmt(rss / 2 ** 20)} MiB (${fmt(rssBefore / 2 ** 20)} before; target ≤ 1024); connect took ${fmt(ready.connectMs / 1000, 1)} s`,
      ]);
      const stopped = idle[0]!.id;
      const stoppedAt = Date.now();
      run.send('kill-one');
      let detectedMs = Number.NaN;
      while (Date.now() - stoppedAt < 120_000) {
        const { rows: found } = await db.query(
          'SELECT created_at FROM alerts WHERE agent_id = $1 AND rule_id = $2',
          [stopped, SILENT_RULE],
        );
        if (found.length) {
          detectedMs = new Date(found[0].created_at).getTime() - stoppedAt;
          break;
        }
        await sleep(250);
      }
      const falseSilent = Number(
        (
          await db.query(
            `SELECT count(*) AS n FROM alerts al JOIN agents a ON a.id = al.agent_id
              WHERE al.rule_id = $1 AND al.agent_id <> $2 AND a.hostname LIKE 'idle-%'`,
            [SILENT_RULE, stopped],
          )
        ).rows[0].n,
      );
      rows.push([
        '(b) agent stops → "agent silent" alert',
        Number.isNaN(detectedMs) ? 'not within 120 s' : `${fmt(detectedMs / 1000, 1)} s`,
        `silent after 45 s, checked every 5 s (target ≤ 60 s); idle agents wrongly silent: ${falseSilent}`,
      ]);
      run.child.kill('SIGKILL');
    }
  } finally {
    await db.end();
    await app.close();
    await database.drop();
  }
}

async function twoCollectors(work: string): Promise<void> {
  const database = await freshDatabase(adminUrl, 'vigil_load');
  const children: ChildProcess[] = [];
  let stderr = '';
  const db = new pg.Pool({ connectionString: database.url, max: 2 });
  try {
    const ports = [await freePort(), await freePort()];
    for (const [i, port] of ports.entries()) {
      const child = spawn(process.execPath, [path.join(distDir, 'collector/cli.js'), 'start'], {
        env: {
          ...process.env,
          PORT: String(port),
          DATABASE_URL: database.url,
          VIGIL_DATA_DIR: path.join(work, `two-${i}`),
          VIGIL_ENROLL_SECRET: 'load-secret',
          VIGIL_ADMIN_TOKEN: 'vgl_load_admin',
          VIGIL_LOG_LEVEL: 'error',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-2000);
      });
      children.push(child);
    }
    for (const port of ports) {
      const deadline = Date.now() + 240_000;
      for (;;) {
        try {
          if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break;
        } catch {}
        if (Date.now() > deadline) throw new Error(`collector did not start: ${stderr}`);
        await sleep(250);
      }
    }
    const streamers = await provisionAgents(db, STREAM_AGENTS, 'two');
    const run = runAgents(
      {
        urls: ports.map((p) => `ws://127.0.0.1:${p}/api/v1/agents/stream`),
        agents: streamers,
        mode: 'stream',
        batchSize: BATCH,
        heartbeatMs: 15_000,
        durationMs: RUN_MS,
        switchAtMs: RUN_MS / 2,
        connectConcurrency: 50,
      },
      work,
    );
    await run.ready;
    const result = await run.done;
    await sleep(1000);
    const dup = await db.query(
      `SELECT count(*)::int AS n FROM (SELECT dedup_key FROM alerts WHERE dedup_open GROUP BY dedup_key HAVING count(*) > 1) d`,
    );
    const counted = await db.query(
      `SELECT (SELECT coalesce(sum(count), 0) FROM alerts WHERE entity LIKE '/opt/load/%')::bigint AS alerted,
              (SELECT count(*) FROM events WHERE type = 'capture.packet_socket')::bigint AS matching`,
    );
    const rssList = children.map((c) => fmt(rssOf(c.pid!) / 2 ** 20)).join(' + ');
    rows.push([
      '(d) two collectors, agents switch halfway',
      `${fmt(result.acked / (result.ms / 1000))} events/s`,
      `RSS ${rssList} MiB; ${result.errors} errors`,
    ]);
    rows.push([
      '(d) duplicate alerts',
      `${dup.rows[0].n}`,
      `alert counts ${counted.rows[0].alerted} = matching events ${counted.rows[0].matching}: ${Number(counted.rows[0].alerted) === Number(counted.rows[0].matching) ? 'yes' : 'NO'}`,
    ]);
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await sleep(500);
    await db.end();
    await database.drop();
  }
}

const work = mkdtempSync(path.join(os.tmpdir(), 'vigil-load-'));
const loadBefore = os.loadavg();
try {
  // A part that fails is reported in the table; the others still run.
  await singleCollector(work).catch((err: Error) =>
    rows.push(['(a–c) single collector', 'FAILED', err.message.slice(0, 300)]),
  );
  if (!skip.has('d'))
    await twoCollectors(work).catch((err: Error) =>
      rows.push(['(d) two collectors', 'FAILED', err.message.slice(0, 300)]),
    );
} finally {
  rmSync(work, { recursive: true, force: true });
}
const loadAfter = os.loadavg();
const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length), 8));
const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
console.log(line(['measurement', 'result', 'notes']));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
console.log(
  `\n${os.cpus().length} CPUs, load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadAfter
    .map((l) => l.toFixed(1))
    .join(' ')} after; node ${process.version}`,
);
process.exit(0);
