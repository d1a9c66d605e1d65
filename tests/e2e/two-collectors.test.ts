// Two collector processes on one PostgreSQL database behind a real nginx: synthetic agents (real
// spool and link) stream through nginx, one collector is killed -9 mid-stream and its agents move
// to the other; every event arrives exactly once and no alert is duplicated. A policy changed
// through one collector reaches an agent connected to the other.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollAgent, TestAgent } from '../helpers/agent-client.js';
import { freshPostgres, postgresAvailable } from '../helpers/db.js';
import { type Child, freePort, requireBuild, startNode, waitFor } from '../helpers/processes.js';

const SECRET = 'two-collectors-secret';
const ADMIN = 'vgl_two_collectors_admin';
const AGENTS = ['a', 'b', 'c', 'd'];
const TOTAL = 900;
const RATE = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function nginxBinary(): string | undefined {
  for (const path of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'])
    if (existsSync(path)) return path;
  try {
    return execFileSync('which', ['nginx']).toString().trim() || undefined;
  } catch {
    return undefined;
  }
}
const nginx = nginxBinary();
if (!nginx && process.env.CI) throw new Error('nginx is required in CI (apt-get install nginx)');
if (!nginx) console.warn('skipping two-collectors e2e: nginx is not installed');
const ready = nginx !== undefined && (await postgresAvailable());

/** The same proxying as docs/nginx.conf, in a prefix directory of its own, on loopback ports. */
function nginxConfig(dir: string, listenPort: number, upstreamPorts: number[]): string {
  return `
daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream vigil_collectors {
${upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=10s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://vigil_collectors;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_connect_timeout 2s;
      proxy_read_timeout 120s;
      proxy_send_timeout 120s;
      proxy_next_upstream error timeout;
    }
  }
}
`;
}

describe.runIf(ready)('two collectors behind nginx', () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: pg.Pool;
  let proxy: ChildProcess;
  let proxyDir: string;
  let proxyUrl: string;
  const collectors: Array<{ child: Child; port: number; url: string }> = [];
  const agents: Child[] = [];
  const dirs: string[] = [];

  async function metric(url: string, series: string): Promise<number> {
    const text = await (
      await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })
    ).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return Number(line?.split(' ')[1]);
  }

  beforeAll(async () => {
    requireBuild();
    database = await freshPostgres();
    db = new pg.Pool({ connectionString: database.url, max: 2 });
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), `vigil-two-${i}-`));
      dirs.push(dataDir);
      const child = startNode('dist/collector/cli.js', ['start'], {
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: database.url,
        VIGIL_DATA_DIR: dataDir,
        VIGIL_ENROLL_SECRET: SECRET,
        VIGIL_ADMIN_TOKEN: ADMIN,
        VIGIL_LOG_LEVEL: 'warn',
      });
      collectors.push({ child, port, url: `http://127.0.0.1:${port}` });
    }
    for (const c of collectors) {
      await waitFor(
        'collector health',
        async () => ((await fetch(`${c.url}/healthz`)).ok ? true : undefined),
        150_000,
      ).catch((err) => {
        throw new Error(`${(err as Error).message}\n${c.child.output().slice(-3000)}`);
      });
    }
    proxyDir = mkdtempSync(join(tmpdir(), 'vigil-nginx-'));
    dirs.push(proxyDir);
    const proxyPort = await freePort();
    const conf = join(proxyDir, 'nginx.conf');
    writeFileSync(
      conf,
      nginxConfig(
        proxyDir,
        proxyPort,
        collectors.map((c) => c.port),
      ),
    );
    proxy = spawn(nginx!, ['-c', conf, '-p', proxyDir], { stdio: 'ignore' });
    proxyUrl = `http://127.0.0.1:${proxyPort}`;
    await waitFor(
      'nginx',
      async () => ((await fetch(`${proxyUrl}/healthz`)).ok ? true : undefined),
      20_000,
    ).catch((err) => {
      const log = existsSync(join(proxyDir, 'error.log'))
        ? readFileSync(join(proxyDir, 'error.log'), 'utf8')
        : '';
      throw new Error(`${(err as Error).message}\n${log}`);
    });
  }, 200_000);

  afterAll(async () => {
    for (const agent of agents) await agent.stop('SIGKILL');
    for (const c of collectors) await c.child.stop('SIGKILL');
    proxy?.kill('SIGKILL');
    await db?.end();
    await database?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('pushes a policy changed through one collector to an agent connected to the other', async () => {
    const [one, two] = collectors as [(typeof collectors)[0], (typeof collectors)[0]];
    const { agentId, token } = await enrollAgent(one.url, SECRET);
    const agent = await TestAgent.connect(`ws://127.0.0.1:${two.port}/api/v1/agents/stream`, token, agentId);
    const res = await fetch(`${one.url}/api/v1/groups/default/policy`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ scanIntervalMs: 2500 }),
    });
    expect(res.status).toBe(200);
    const { policy } = (await res.json()) as { policy: { revision: number } };
    const pushed = (await agent.waitFor(
      (m) => m.type === 'policy' && m.policy.revision === policy.revision,
      15_000,
    )) as {
      policy: { scanIntervalMs: number };
    };
    expect(pushed.policy.scanIntervalMs).toBe(2500);
    agent.close();
    await agent.waitClosed();
  }, 60_000);

  it('moves agents to the surviving collector and stores every event once, with one alert per agent', async () => {
    for (const label of AGENTS) {
      const stateDir = mkdtempSync(join(tmpdir(), `vigil-two-agent-${label}-`));
      dirs.push(stateDir);
      const args = ['--collector', proxyUrl, '--secret', SECRET, '--state-dir', stateDir, '--label', label];
      agents.push(
        startNode(
          'tests/fixtures/synthetic-agent.mjs',
          [...args, '--total', String(TOTAL), '--rate', String(RATE)],
          {},
        ),
      );
    }
    // Both collectors hold some of the agents before one of them dies.
    const spread = await waitFor(
      'agents connected through nginx',
      async () => {
        const counts = await Promise.all(collectors.map((c) => metric(c.url, 'vigil_agents_connected')));
        return counts[0]! + counts[1]! === AGENTS.length ? counts : undefined;
      },
      60_000,
    );
    await sleep(3000);
    const victim = spread[0]! >= spread[1]! ? 0 : 1;
    const survivor = collectors[1 - victim]!;
    expect(spread[victim]).toBeGreaterThan(0);
    await collectors[victim]!.child.stop('SIGKILL');
    await waitFor(
      'agents on the survivor',
      async () =>
        (await metric(survivor.url, 'vigil_agents_connected')) === AGENTS.length ? true : undefined,
      60_000,
    );

    const counts = await waitFor(
      'every event delivered',
      async () => {
        const { rows } = await db.query<{ label: string; n: number; distinct_n: number }>(
          `SELECT a.hostname AS label, count(*)::int AS n, count(DISTINCT e.data->>'inode')::int AS distinct_n
             FROM events e JOIN agents a ON a.id = e.agent_id
            WHERE e.type = 'capture.packet_socket' GROUP BY a.hostname ORDER BY a.hostname`,
        );
        return rows.length === AGENTS.length && rows.every((r) => r.n >= TOTAL) ? rows : undefined;
      },
      180_000,
    );
    expect(counts).toEqual(AGENTS.map((l) => ({ label: `synthetic-${l}`, n: TOTAL, distinct_n: TOTAL })));
    const alerts = await db.query<{ hostname: string; alerts: number; count: number }>(
      `SELECT g.hostname, count(*)::int AS alerts, sum(al.count)::int AS count
         FROM alerts al JOIN agents g ON g.id = al.agent_id
        WHERE al.entity = '/opt/synthetic/gen' GROUP BY g.hostname ORDER BY g.hostname`,
    );
    expect(alerts.rows).toEqual(AGENTS.map((l) => ({ hostname: `synthetic-${l}`, alerts: 1, count: TOTAL })));
  }, 400_000);
});
