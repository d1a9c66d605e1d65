// Delivery under faults, with real processes: several agents stream steadily while the collector
// is killed -9 ten times, PostgreSQL restarts twice, one agent is killed -9 mid-batch and another
// loses its network. Afterwards every event produced is in the database exactly once, and each
// agent's alert counted each event exactly once.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseNetns, createVethPair, type VethPair } from '../helpers/netns.js';
import { type PrivateCluster, startPrivateCluster } from '../helpers/pg-cluster.js';
import { type Child, freePort, repoRoot, requireBuild, startNode, waitFor } from '../helpers/processes.js';

const ready = canUseNetns();
const SECRET = 'faults-secret';
const TOTAL = 1500;
const RATE = 60;
// A subnet of its own per run, so a namespace left by an interrupted run cannot shadow it.
const subnet = `10.77.${1 + Math.floor(Math.random() * 250)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!ready)('delivery under faults', () => {
  let cluster: PrivateCluster;
  let veth: VethPair;
  let collector: Child;
  let collectorEnv: NodeJS.ProcessEnv;
  let db: pg.Pool;
  const dirs: string[] = [];
  const agents = new Map<string, { child: Child; args: string[]; netns?: string }>();
  const fixture = resolve(repoRoot, 'tests/fixtures/synthetic-agent.mjs');

  const startCollector = () => startNode('dist/collector/cli.js', ['start'], collectorEnv);
  async function healthy(base: string) {
    await waitFor(
      'collector health',
      async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined),
      90_000,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${collector.output().slice(-3000)}`);
    });
  }

  function startAgent(label: string, base: string, netns?: string) {
    const stateDir = mkdtempSync(join(tmpdir(), `vigil-synth-${label}-`));
    dirs.push(stateDir);
    const args = [
      '--collector',
      base,
      '--secret',
      SECRET,
      '--state-dir',
      stateDir,
      '--label',
      label,
      '--total',
      String(TOTAL),
      '--rate',
      String(RATE),
    ];
    agents.set(label, { child: launch(args, netns), args, netns });
  }
  function launch(args: string[], netns?: string): Child {
    if (!netns) return startNode('tests/fixtures/synthetic-agent.mjs', args, {});
    return startNode('tests/fixtures/netns-exec.mjs', [netns, process.execPath, fixture, ...args], {});
  }

  beforeAll(async () => {
    requireBuild();
    veth = createVethPair();
    execFileSync('ip', ['addr', 'add', `${subnet}.1/30`, 'dev', veth.outside]);
    execFileSync('ip', ['-n', veth.namespace, 'addr', 'add', `${subnet}.2/30`, 'dev', veth.inside]);
    cluster = startPrivateCluster(await freePort());
    db = new pg.Pool({ connectionString: cluster.url, max: 2 });
    db.on('error', () => {});
    const port = await freePort();
    collectorEnv = {
      PORT: String(port),
      HOST: `${subnet}.1`,
      DATABASE_URL: cluster.url,
      VIGIL_DATA_DIR: mkdtempSync(join(tmpdir(), 'vigil-faults-')),
      VIGIL_ENROLL_SECRET: SECRET,
      VIGIL_ADMIN_TOKEN: 'vgl_faults',
      VIGIL_LOG_LEVEL: 'warn',
    };
    dirs.push(collectorEnv.VIGIL_DATA_DIR!);
    collector = startCollector();
    const base = `http://${subnet}.1:${port}`;
    await healthy(base);
    startAgent('a', base);
    startAgent('b', base);
    startAgent('c', base, veth.namespace);
  }, 120_000);

  afterAll(async () => {
    for (const { child } of agents.values()) await child.stop('SIGKILL');
    await collector?.stop('SIGKILL');
    await db?.end();
    cluster?.stop();
    veth?.remove();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('loses nothing and counts nothing twice', async () => {
    const base = `http://${subnet}.1:${collectorEnv.PORT}`;
    const chaos = (async () => {
      for (let i = 1; i <= 10; i++) {
        await sleep(2200);
        console.log(new Date().toISOString(), 'chaos step', i);
        await collector.stop('SIGKILL');
        if (i === 3 || i === 7) cluster.restart();
        if (i === 4) {
          const b = agents.get('b')!;
          await b.child.stop('SIGKILL');
          b.child = launch(b.args);
        }
        if (i === 5) execFileSync('ip', ['-n', veth.namespace, 'link', 'set', veth.inside, 'down']);
        if (i === 8) execFileSync('ip', ['-n', veth.namespace, 'link', 'set', veth.inside, 'up']);
        collector = startCollector();
        await healthy(base);
      }
    })();
    await chaos;
    let last: unknown;
    const counts = await waitFor(
      'every event delivered',
      async () => {
        const { rows } = await db.query<{ label: string; n: number; distinct_n: number }>(
          `SELECT a.hostname AS label, count(*)::int AS n, count(DISTINCT e.data->>'inode')::int AS distinct_n
             FROM events e JOIN agents a ON a.id = e.agent_id
            WHERE e.type = 'capture.packet_socket' GROUP BY a.hostname ORDER BY a.hostname`,
        );
        last = rows;
        return rows.length === 3 && rows.every((r) => r.n >= TOTAL) ? rows : undefined;
      },
      120_000,
    ).catch((err) => {
      const outputs = [...agents].map(([label, a]) => `--- agent ${label}\n${a.child.output().slice(-1500)}`);
      throw new Error(
        `${(err as Error).message}; stored so far ${JSON.stringify(last)}\n${outputs.join('\n')}`,
      );
    });
    expect(counts).toEqual(
      ['a', 'b', 'c'].map((l) => ({ label: `synthetic-${l}`, n: TOTAL, distinct_n: TOTAL })),
    );
    const alerts = await db.query<{ hostname: string; count: number }>(
      `SELECT g.hostname, al.count FROM alerts al JOIN agents g ON g.id = al.agent_id
        WHERE al.entity = '/opt/synthetic/gen' ORDER BY g.hostname`,
    );
    expect(alerts.rows).toEqual(['a', 'b', 'c'].map((l) => ({ hostname: `synthetic-${l}`, count: TOTAL })));
  }, 600_000);
});
