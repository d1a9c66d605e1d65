// Console page timing with a realistic store: 100k alerts, 300k process.start events (the alert
// detail walks a capture alert's parent chain through them), incidents, agents, audit rows, in a
// fresh PostgreSQL database. Run after a build:
//   node dist/bench/console.js [--alerts 100000] [--process-events 300000] [--runs 40]
// Each page is requested in-process (app.inject, the real routes, hooks and templates) after a
// warm-up; prints p50/p95/max server time per page and fails (exit 1) if a p95 exceeds 100 ms.
// DATABASE_URL points at the server (default postgres://postgres@127.0.0.1:5432/postgres); the
// bench database is dropped at the end.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { buildApp } from '../collector/app.js';
import { createSession } from '../collector/auth/credentials.js';
import { hashPassword } from '../collector/auth/passwords.js';
import type { CollectorConfig } from '../collector/config.js';
import { openPostgres } from '../collector/db/db.js';

const P95_BUDGET_MS = 100;
const ADMIN_TOKEN = `vgl_bench_${randomBytes(8).toString('hex')}`;

const argument = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? Number(process.argv[at + 1]) : fallback;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} needs a positive integer`);
  return value;
};

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function main() {
  const alertCount = argument('alerts', 100_000);
  const runs = argument('runs', 40);
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `vigil_bench_console_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-bench-console-'));
  const db = openPostgres(url.toString());
  const config: CollectorConfig = {
    port: 0,
    host: '127.0.0.1',
    dataDir,
    enrollSecret: 'bench-enroll-secret',
    adminToken: ADMIN_TOKEN,
    logLevel: 'silent',
    alertDedupWindowMs: 3_600_000,
    agentSilentAfterMs: 45_000,
    agentReconnectGraceMs: 75_000,
    presenceCheckIntervalMs: 60_000,
    ingestSoftLimit: 8,
    ingestHardLimit: 32,
  } as CollectorConfig;
  const app = await buildApp(config, { db, logger: false });
  await app.ready();
  try {
    const seedStart = performance.now();
    await db.exec(`
      INSERT INTO agent_groups (id, name) VALUES ('bench', 'Bench floor') ON CONFLICT DO NOTHING;
      INSERT INTO agents (id, group_id, token_hash, hostname, platform, os, agent_version, last_seen, presence, spool_depth, health)
      SELECT gen_random_uuid(), 'bench', md5('agent' || i), 'ws-' || lpad(i::text, 3, '0'), 'linux',
             '{"distro":"Debian","release":"12"}'::jsonb, '1.0.0', now() - (i || ' seconds')::interval,
             (ARRAY['online','silent','stopped','offline'])[1 + i % 4], i % 7,
             '{"sensors":{"process":{"state":"ok"},"capture":{"state":"ok"},"web":{"state":"degraded","reason":"no browser"}}}'::jsonb
        FROM generate_series(1, 200) i;`);
    await db.query(
      `WITH ag AS (SELECT id, hostname, row_number() OVER (ORDER BY hostname) - 1 AS n FROM agents)
       INSERT INTO alerts (rule_id, rule_title, level, tags, agent_id, entity, dedup_key, dedup_open, status, count,
                           first_seen, last_seen, last_event_id, evidence, hostname, escalation_checked_at)
       SELECT 'bench-rule-' || (i % 25), 'Bench rule ' || (i % 25),
              (ARRAY['informational','low','medium','high','critical'])[1 + i % 5], '{}', ag.id, 'entity-' || i,
              'bench|' || i, false, (ARRAY['open','acknowledged','resolved','false_positive'])[1 + i % 4], 1 + i % 9,
              now() - ((i * 7) || ' seconds')::interval, now() - ((i * 5) || ' seconds')::interval, gen_random_uuid(),
              jsonb_build_object('user', 'agent' || (i % 300), 'pid', i, 'exe', '/usr/bin/tool' || (i % 40)),
              ag.hostname, now()
         FROM generate_series(1, $1::int) i JOIN ag ON ag.n = i % 200`,
      [alertCount],
    );
    const api = async (method: 'POST' | 'GET', path: string, payload?: object) => {
      const res = await app.inject({
        method,
        url: path,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        payload,
      });
      if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${res.body}`);
      return res.json();
    };
    // Process history the alert detail walks: process.start rows for every agent over the last day
    // (pids reused many times over), and one capture alert whose process has a 6-deep parent chain.
    const processEvents = argument('process-events', 300_000);
    await db.query(
      `WITH ag AS (SELECT id, row_number() OVER (ORDER BY hostname) - 1 AS n FROM agents)
       INSERT INTO events (id, agent_id, time, type, data)
       SELECT gen_random_uuid(), ag.id, t, 'process.start',
              jsonb_build_object('pid', 100 + (i::bigint * 7919) % 32000, 'ppid', 100 + (i::bigint * 104729) % 32000,
                                 'name', 'proc' || (i % 50), 'exe', '/usr/bin/proc' || (i % 50),
                                 'cmdline', 'proc' || (i % 50) || ' --flag', 'user', 'agent' || (i % 300),
                                 'startTime', t, 'sha256', md5(i::text) || md5((i + 1)::text))
         FROM generate_series(1, $1::int) i
         JOIN ag ON ag.n = i % 200
         CROSS JOIN LATERAL (SELECT now() - ((i * 86400.0 / $1) || ' seconds')::interval AS t) AS at`,
      [processEvents],
    );
    const captureAlert = (await api('GET', '/api/v1/alerts?limit=1')).alerts[0] as {
      id: string;
      agentId: string;
    };
    const chain = [40_001, 40_002, 40_003, 40_004, 40_005, 40_006];
    for (const [n, pid] of chain.entries()) {
      const ppid = n === 0 ? 1 : chain[n - 1]!;
      await db.query(
        `INSERT INTO events (id, agent_id, time, type, data)
         VALUES (gen_random_uuid(), $1, now() - (($2::int) || ' minutes')::interval, 'process.start', $3::jsonb)`,
        [
          captureAlert.agentId,
          60 - n,
          JSON.stringify({
            pid,
            ppid,
            name: `step${n}`,
            exe: `/usr/bin/step${n}`,
            cmdline: `step${n}`,
            user: 'carol',
          }),
        ],
      );
    }
    const captureEvent = await db.query<{ id: string }>(
      `INSERT INTO events (id, agent_id, time, type, data)
       VALUES (gen_random_uuid(), $1, now() - interval '1 minute', 'capture.packet_socket', $2::jsonb) RETURNING id`,
      [
        captureAlert.agentId,
        JSON.stringify({
          kind: 'packet',
          inode: 1,
          interface: 'eth0',
          pid: chain.at(-1),
          name: 'step5',
          exe: '/usr/bin/step5',
          user: 'carol',
        }),
      ],
    );
    await db.query('INSERT INTO alert_events (alert_id, event_id) VALUES ($1, $2)', [
      captureAlert.id,
      captureEvent.rows[0]!.id,
    ]);
    await db.exec('ANALYZE');
    const users = await Promise.all(
      (['viewer', 'analyst', 'incident_manager', 'admin'] as const).map(async (role) => {
        const hash = await hashPassword('bench password 123');
        const { rows } = await db.query<{ id: string }>(
          'INSERT INTO users (username, role, password_hash) VALUES ($1, $2, $3) RETURNING id',
          [`bench-${role}`, role, hash],
        );
        return rows[0]!.id;
      }),
    );
    const session = await createSession(db, users[3]!, 3_600_000, '127.0.0.1');
    const cookie = `vigil_session=${session.token}`;
    const recent = (await api('GET', '/api/v1/alerts?limit=200')).alerts as Array<{ id: string }>;
    let incidentId = '';
    for (let i = 0; i < 30; i++) {
      const incident = await api('POST', '/api/v1/incidents', {
        title: `Bench incident ${i}`,
        severity: 'high',
        alertIds: recent.slice(i * 5, i * 5 + 5).map((a) => a.id),
        affectedCounts: { 'us-ca': 1000 + i, 'eu-gdpr': 500 },
      });
      incidentId = incident.id;
    }
    const alertId = recent[0]!.id;
    if (alertId !== captureAlert.id) throw new Error('the capture alert is not the newest');
    console.log(
      `seeded ${alertCount} alerts, ${processEvents} process.start events, 200 agents, 30 incidents in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
    );

    const pages = [
      '/console/alerts',
      '/console/alerts?status=open&level=high',
      '/console/alerts?sort=count',
      '/console/alerts?q=ws-017',
      '/console/alerts?sort=status',
      '/console/alerts?sort=workstation&order=asc',
      '/console/alerts?sort=assignee',
      '/console/alerts/rows',
      `/console/alerts/${alertId}`,
      '/console/incidents',
      `/console/incidents/${incidentId}`,
      '/console/fleet',
      '/console/fleet?presence=silent&q=ws-1',
      '/console/rules',
      '/console/audit',
    ];
    // Rounds interleave the pages, so load from other processes spreads over all of them alike.
    const wall = new Map<string, number[]>(pages.map((p) => [p, []]));
    const cpu = new Map<string, number[]>(pages.map((p) => [p, []]));
    const WARMUP = 10;
    for (let round = 0; round < runs + WARMUP; round++) {
      for (const page of pages) {
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        const res = await app.inject({ method: 'GET', url: page, headers: { cookie } });
        const elapsed = performance.now() - started;
        const used = process.cpuUsage(cpuBefore);
        if (res.statusCode !== 200) throw new Error(`${page}: ${res.statusCode} ${res.body.slice(0, 300)}`);
        if (round < WARMUP) continue;
        wall.get(page)!.push(elapsed);
        cpu.get(page)!.push((used.user + used.system) / 1000);
      }
    }
    let failed = false;
    console.log(
      `page                                            p50 ms   p95 ms   max ms  node CPU p50 ms   (${runs} runs)`,
    );
    for (const page of pages) {
      const times = wall.get(page)!.sort((a, b) => a - b);
      const cpuTimes = cpu.get(page)!.sort((a, b) => a - b);
      const p95 = percentile(times, 95);
      if (p95 > P95_BUDGET_MS) failed = true;
      const label = page.length > 46 ? `${page.slice(0, 43)}...` : page;
      console.log(
        `${label.padEnd(46)} ${percentile(times, 50).toFixed(1).padStart(7)} ${p95.toFixed(1).padStart(8)} ${times.at(-1)!.toFixed(1).padStart(8)} ${percentile(cpuTimes, 50).toFixed(1).padStart(16)}${p95 > P95_BUDGET_MS ? '  OVER BUDGET' : ''}`,
      );
    }
    console.log(
      `load average while measuring: ${(await import('node:os'))
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    if (failed) process.exitCode = 1;
  } finally {
    await app.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
