// Alert-list benchmark. Run after a build, with PostgreSQL reachable:
//   node dist/bench/alerts-query.js [--rows 1000000] [--runs 60] [--keep]
// (`bench:detect` runs it too, through `alertListBench`.)
// Creates a fresh database on DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432/postgres),
// applies the migrations, inserts alerts with generate_series (2,000 agents in 10 groups, 300 rules with
// skewed popularity, realistic statuses and levels, 90 days), then times the queries the alerts API runs
// through the repository function, next to a raw baseline measured in the same run. Prints p50/p95.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { type AlertFilter, listAlerts } from '../collector/alerts/repository.js';
import { openPostgres } from '../collector/db/db.js';
import { migrate } from '../collector/db/migrate.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const DEFAULT_ROWS = flag('rows', 1_000_000);
const DEFAULT_RUNS = flag('runs', 60);
const WARMUP = 5;
const AGENTS = 2000;
const GROUPS = 10;
const RULES = 300;
const TARGET_P95_MS = 100;

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// Skewed choices: a few rules and agents produce most alerts, as in a real fleet.
const seedSql = (ROWS: number) => `
INSERT INTO agent_groups (id, name) SELECT 'floor-' || g, 'Floor ' || g FROM generate_series(1, ${GROUPS}) g;
INSERT INTO agents (id, group_id, token_hash, hostname, platform, agent_version, enrolled_at, last_seen)
SELECT gen_random_uuid(), 'floor-' || (1 + i % ${GROUPS}), md5('t' || i), 'ws-' || lpad(i::text, 4, '0'),
       (ARRAY['win32', 'win32', 'win32', 'linux', 'darwin'])[1 + i % 5], '1.0.0', now() - interval '120 days', now()
  FROM generate_series(1, ${AGENTS}) i;
CREATE TEMP TABLE bench_agents AS SELECT row_number() OVER (ORDER BY hostname) AS n, id, hostname FROM agents;
CREATE TEMP TABLE bench_rules AS
SELECT r AS n, 'vigil-bench-rule-' || r AS id,
       (ARRAY['Packet capture tool', 'Remote access tool', 'Personal webmail', 'Social network visit',
              'Capture driver started', 'Promiscuous interface', 'Unexpected process', 'Cloud storage upload'])[1 + r % 8]
         || ' ' || r AS title,
       CASE WHEN r % 20 = 0 THEN 'critical' WHEN r % 5 = 0 THEN 'high' WHEN r % 3 = 0 THEN 'low'
            WHEN r % 10 = 1 THEN 'informational' ELSE 'medium' END AS level
  FROM generate_series(1, ${RULES}) r;
INSERT INTO alerts (rule_id, rule_title, level, agent_id, hostname, entity, dedup_key, dedup_open, status, count,
                    first_seen, last_seen, last_event_id, evidence)
SELECT r.id, r.title, r.level, a.id, a.hostname, x.entity, r.id || '|' || a.id || '|' || x.entity || '|' || x.i,
       x.status IN ('open', 'acknowledged') AND x.i % 7 = 0, x.status, x.count,
       x.last_seen - x.span, x.last_seen, gen_random_uuid(),
       jsonb_build_object('eventType', 'process.start', 'exe', x.entity, 'pid', x.i % 65536)
  FROM (
    SELECT i,
           1 + floor(${RULES} * power(random(), 3))::int AS rule_n,
           1 + floor(${AGENTS} * power(random(), 1.5))::int AS agent_n,
           (ARRAY['C:\\Windows\\System32\\pktmon.exe', '/usr/bin/tcpdump', '/usr/bin/tshark', 'C:\\Program Files\\AnyDesk\\AnyDesk.exe',
                  'mail.google.com', 'www.facebook.com', '/usr/sbin/dumpcap', 'C:\\Tools\\putty.exe'])[1 + (i % 8)]
             || CASE WHEN i % 3 = 0 THEN '' ELSE ' #' || (i % 500) END AS entity,
           CASE WHEN random() < 0.85 THEN (ARRAY['resolved', 'resolved', 'resolved', 'false_positive'])[1 + floor(random() * 4)::int]
                ELSE (ARRAY['open', 'open', 'acknowledged'])[1 + floor(random() * 3)::int] END AS status,
           1 + floor(100 * power(random(), 6))::int AS count,
           now() - interval '90 days' * power(random(), 0.7) AS last_seen,
           interval '1 hour' * floor(48 * random()) AS span
      FROM generate_series(1, ${ROWS}) i
  ) x
  JOIN bench_rules r ON r.n = x.rule_n
  JOIN bench_agents a ON a.n = x.agent_n;
`;

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

async function measure(
  fn: (run: number) => Promise<unknown>,
  RUNS: number,
): Promise<{ p50: number; p95: number }> {
  for (let i = 0; i < WARMUP; i++) await fn(i);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await fn(WARMUP + i);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p95: percentile(times, 95) };
}

export interface AlertListResult {
  name: string;
  p50: number;
  p95: number;
}

/** Seeds `rows` alerts into a fresh database, times the list queries and prints them; returns them. */
export async function alertListBench(
  options: { rows?: number; runs?: number; keep?: boolean } = {},
): Promise<AlertListResult[]> {
  const ROWS = options.rows ?? DEFAULT_ROWS;
  const RUNS = options.runs ?? DEFAULT_RUNS;
  const keep = options.keep ?? args.includes('--keep');
  const name = `vigil_bench_${randomBytes(4).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = openPostgres(url.toString(), { max: 2 });
  try {
    await migrate(db);
    process.stdout.write(`inserting ${ROWS.toLocaleString('en')} alerts into ${name}… `);
    const seedStart = performance.now();
    // Bulk load as an operator would: the migration's alert indexes are dropped for the load and
    // rebuilt from their own definitions afterwards (one sort each instead of a million inserts).
    const { rows: indexes } = await db.query<{ indexname: string; indexdef: string }>(
      `SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = 'alerts' AND i.indexname NOT IN ('alerts_pkey', 'alerts_dedup_open')`,
    );
    await db.transaction(async (tx) => {
      await tx.query("SET LOCAL maintenance_work_mem = '512MB'");
      for (const index of indexes) await tx.query(`DROP INDEX ${index.indexname}`);
      await tx.exec(seedSql(ROWS));
      for (const index of indexes) await tx.query(index.indexdef);
    });
    // One statement per call: VACUUM refuses to run inside the implicit transaction of a multi-statement query.
    await db.exec('VACUUM ANALYZE alerts');
    await db.exec('ANALYZE agents');
    process.stdout.write(`${((performance.now() - seedStart) / 1000).toFixed(1)} s\n`);

    const { rows: hosts } = await db.query<{ id: string; hostname: string; group_id: string }>(
      // Agents of middling activity: the busiest ones would flatter the by-agent query.
      `SELECT g.id, g.hostname, g.group_id FROM agents g ORDER BY g.hostname OFFSET 200 LIMIT 200`,
    );
    const pick = <T>(list: T[], run: number): T => list[run % list.length]!;
    const firstPage = await listAlerts(db, { limit: 50 });
    const statusLevels: AlertFilter[] = [
      { status: 'open', level: 'high', limit: 50 },
      { status: 'open', level: 'critical', limit: 50 },
      { status: 'acknowledged', level: 'medium', limit: 50 },
      { status: 'false_positive', level: 'informational', limit: 50 },
    ];

    const cases: { name: string; run: (run: number) => Promise<unknown> }[] = [
      {
        name: 'baseline: raw SELECT id … ORDER BY last_seen DESC LIMIT 50',
        run: () => db.query('SELECT id FROM alerts ORDER BY last_seen DESC LIMIT 50'),
      },
      { name: 'default view (last_seen desc)', run: () => listAlerts(db, { limit: 50 }) },
      { name: 'status + level', run: (run) => listAlerts(db, pick(statusLevels, run)) },
      { name: 'by agent', run: (run) => listAlerts(db, { agentId: pick(hosts, run).id, limit: 50 }) },
      {
        name: 'by group + status open',
        run: (run) => listAlerts(db, { groupId: pick(hosts, run).group_id, status: 'open', limit: 50 }),
      },
      {
        name: 'text search: hostname',
        run: (run) => listAlerts(db, { text: pick(hosts, run).hostname, limit: 50 }),
      },
      {
        name: 'text search: rule title word',
        run: (run) =>
          listAlerts(db, { text: pick(['webmail', 'anydesk', 'promiscuous', 'tshark'], run), limit: 50 }),
      },
      { name: 'second page via cursor', run: () => listAlerts(db, { limit: 50, after: firstPage.next! }) },
      { name: 'sort by level', run: () => listAlerts(db, { sort: 'level', limit: 50 }) },
      { name: 'sort by count', run: () => listAlerts(db, { sort: 'count', limit: 50 }) },
      {
        name: 'last 24 h, status open',
        run: () =>
          listAlerts(db, {
            status: 'open',
            from: new Date(Date.now() - 86_400_000).toISOString(),
            limit: 50,
          }),
      },
    ];

    const results: { name: string; p50: number; p95: number }[] = [];
    for (const c of cases) results.push({ name: c.name, ...(await measure(c.run, RUNS)) });

    const width = Math.max(...results.map((r) => r.name.length));
    console.log(`\n${'query'.padEnd(width)}   p50 ms   p95 ms`);
    console.log(`${'-'.repeat(width)}   ------   ------`);
    for (const r of results) {
      const flagText = r.p95 > TARGET_P95_MS ? '  over target' : '';
      console.log(
        `${r.name.padEnd(width)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p95.toFixed(2).padStart(7)}${flagText}`,
      );
    }
    console.log(
      `\n${ROWS.toLocaleString('en')} alerts, ${RUNS} runs per query after ${WARMUP} warm-up runs; target p95 ≤ ${TARGET_P95_MS} ms.`,
    );
    return results;
  } finally {
    await db.close();
    if (!keep) await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    else console.log(`kept database ${name}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await alertListBench();
}
