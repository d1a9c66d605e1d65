// Notification benchmark. Run after a build:
//   node dist/bench/notify.js [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--incidents 200] [--triggers 2000]
// With --database-url a scratch database is created on that server and dropped at the end;
// without it the collector runs on embedded PGlite in a temp directory.
// Measures, against a webhook receiver on 127.0.0.1:
//   - latency from an incident change's commit to the receiver getting its trigger (p50/p95), with
//     the in-process wake-up and with polling only (a change committed by another process);
//   - outbox throughput: triggers/s delivered from a backlog written in one transaction;
//   - the baseline: the same POSTs sent by a bare fetch loop, no database in between.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildApp } from '../collector/app.js';
import { type CollectorConfig, collectorConfigFrom, collectorOptions } from '../collector/config.js';
import { type Db, openEmbedded, openPostgres } from '../collector/db/db.js';
import { openIncident } from '../collector/incidents/service.js';
import { enqueueTrigger } from '../collector/notify/outbox.js';
import { insertChannel } from '../collector/notify/repository.js';
import { generateWebhookSecret } from '../collector/notify/signing.js';
import { readOptions } from '../shared/options.js';
import { freshDatabase } from './support.js';

const { values } = parseArgs({
  options: {
    'database-url': { type: 'string' },
    incidents: { type: 'string', default: '200' },
    triggers: { type: 'string', default: '2000' },
  },
});
const INCIDENTS = Number(values.incidents);
const TRIGGERS = Number(values.triggers);
const POLL_ONLY_INCIDENTS = Math.min(50, INCIDENTS);
const POLL_MS = 500;
const BASELINE_CONCURRENCY = 20;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted.at(-1)! };
};

/** A receiver that resolves a waiter when the trigger for an incident (or the n-th request) lands. */
async function startReceiver() {
  const arrivals = new Map<string, number>();
  const waiters = new Map<string, (at: number) => void>();
  let count = 0;
  let countWaiter: { n: number; resolve: (at: number) => void } | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      count++;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          data?: { incident?: { id?: string } };
        };
        const id = body.data?.incident?.id;
        if (id) {
          arrivals.set(id, at);
          waiters.get(id)?.(at);
        }
      } catch {
        // baseline bodies need not parse
      }
      if (countWaiter && count >= countWaiter.n) countWaiter.resolve(at);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrivalOf(incidentId: string): Promise<number> {
      const seen = arrivals.get(incidentId);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.set(incidentId, resolve));
    },
    reset() {
      count = 0;
    },
    untilCount(n: number): Promise<number> {
      return new Promise((resolve) => {
        countWaiter = { n, resolve };
        if (count >= n) resolve(performance.now());
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function openDatabase(): Promise<{
  db: Db;
  engine: string;
  dataDir: string;
  drop: () => Promise<void>;
}> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-notify-'));
  const adminUrl = values['database-url'];
  if (!adminUrl) {
    const db = await openEmbedded(dataDir);
    return {
      db,
      engine: 'PGlite',
      dataDir,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const database = await freshDatabase(adminUrl);
  const db = openPostgres(database.url);
  return {
    db,
    engine: 'PostgreSQL',
    dataDir,
    drop: async () => {
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const receiver = await startReceiver();
  const { db, engine, dataDir, drop } = await openDatabase();
  // Defaults from the option table, so the bench follows new settings without edits.
  const config: CollectorConfig = {
    ...collectorConfigFrom(readOptions(collectorOptions, [], {}).values),
    port: 0,
    dataDir,
    adminToken: `vgl_bench_${randomBytes(8).toString('hex')}`,
    enrollSecret: 'bench',
    logLevel: 'silent',
    allowPrivateTargets: true,
    notifyPollMs: POLL_MS,
    escalationPollMs: 3_600_000,
    overduePollMs: 3_600_000,
  };
  const app = await buildApp(config, { db, logger: false });
  await app.ready();
  const ctx = { publicUrl: 'http://vigil.bench' };
  await insertChannel(db, {
    name: 'bench',
    settings: { type: 'webhook', url: receiver.url, secret: generateWebhookSecret() },
    events: ['incident.opened'],
    enabled: true,
  });

  const commitToArrival = async (wake: boolean): Promise<number> => {
    const incident = await db.transaction((tx) =>
      openIncident(tx, ctx, { title: 'Sniffer on CC-0142', severity: 'high' }, 'system:bench'),
    );
    const committed = performance.now();
    if (wake) app.outboxSignal.written();
    return (await receiver.arrivalOf(incident!.id)) - committed;
  };

  // Warm-up: connections, JIT, prepared plans.
  for (let i = 0; i < 10; i++) await commitToArrival(true);
  const woken: number[] = [];
  for (let i = 0; i < INCIDENTS; i++) woken.push(await commitToArrival(true));
  const polled: number[] = [];
  for (let i = 0; i < POLL_ONLY_INCIDENTS; i++) polled.push(await commitToArrival(false));

  // Throughput: a backlog of triggers committed at once, drained by the worker.
  const incident = (await db.transaction((tx) =>
    openIncident(tx, ctx, { title: 'Backlog', severity: 'high' }, 'system:bench'),
  ))!;
  await receiver.arrivalOf(incident.id);
  const trigger = {
    id: incident.id,
    title: 'Backlog',
    severity: 'high' as const,
    status: 'new',
    url: ctx.publicUrl,
    summary: '',
  };
  receiver.reset();
  await db.transaction(async (tx) => {
    for (let i = 0; i < TRIGGERS; i++)
      await enqueueTrigger(tx, { kind: 'incident.opened', incident: trigger });
  });
  const drainStart = performance.now();
  app.outboxSignal.written();
  const drainEnd = await receiver.untilCount(TRIGGERS);
  const outboxRate = TRIGGERS / ((drainEnd - drainStart) / 1000);

  // Baseline: the same receiver, bare POSTs of a same-sized body, no database.
  const body = JSON.stringify({
    type: 'incident.opened',
    data: { incident: { ...trigger, id: 'baseline' } },
  });
  const post = () =>
    fetch(receiver.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const bareLatency: number[] = [];
  for (let i = 0; i < INCIDENTS; i++) {
    const start = performance.now();
    const res = await post();
    await res.body?.cancel();
    bareLatency.push(performance.now() - start);
  }
  receiver.reset();
  const bareStart = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: BASELINE_CONCURRENCY }, async () => {
      while (next < TRIGGERS) {
        next++;
        const res = await post();
        await res.body?.cancel();
      }
    }),
  );
  const bareRate = TRIGGERS / ((performance.now() - bareStart) / 1000);

  await app.close();
  await db.close();
  await receiver.close();
  await drop();

  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const w = stats(woken);
  const p = stats(polled);
  const b = stats(bareLatency);
  const rows = [
    ['measurement', 'n', 'p50', 'p95', 'max / rate'],
    ['commit → receiver, in-process wake-up', String(INCIDENTS), ms(w.p50), ms(w.p95), ms(w.max)],
    [
      `commit → receiver, poll only (${POLL_MS} ms)`,
      String(POLL_ONLY_INCIDENTS),
      ms(p.p50),
      ms(p.p95),
      ms(p.max),
    ],
    ['baseline: bare POST round trip', String(INCIDENTS), ms(b.p50), ms(b.p95), ms(b.max)],
    ['outbox drain, triggers/s', String(TRIGGERS), '', '', `${outboxRate.toFixed(0)}/s`],
    [
      `baseline: bare POST loop ×${BASELINE_CONCURRENCY}, requests/s`,
      String(TRIGGERS),
      '',
      '',
      `${bareRate.toFixed(0)}/s`,
    ],
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  process.stdout.write(`Notification delivery on ${engine} (Node ${process.version})\n`);
  for (const row of rows)
    process.stdout.write(`${row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ')}\n`);
  process.stdout.write(`target: p95 commit → receiver ≤ 1000 ms: ${w.p95 <= 1000 ? 'met' : 'MISSED'}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  // The receiver and database would keep a failed run alive.
  process.exit(1);
});
