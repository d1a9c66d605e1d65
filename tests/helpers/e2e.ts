// One collector (on a fresh real PostgreSQL database) and one agent, both as child processes
// built from dist/, for end-to-end tests: alerts are read through the API, events from the database.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freshPostgres } from './db.js';
import { type Child, freePort, requireBuild, startNode, waitFor } from './processes.js';

export const E2E_ADMIN_TOKEN = 'vgl_e2e_admin';
export const E2E_ENROLL_SECRET = 'e2e-enroll-secret';

export interface AlertView {
  id: string;
  ruleId: string;
  ruleTitle: string;
  level: string;
  tags: string[];
  evidence: Record<string, unknown> & {
    eventType?: string;
    pid?: number;
    exe?: string;
    user?: string;
    name?: string;
    cmdline?: string;
    interface?: string;
    path?: string;
  };
}

export interface EventRow {
  type: string;
  data: Record<string, unknown>;
  time: Date;
  received_at: Date;
}

export interface E2eStack {
  base: string;
  agent: Child;
  collector: Child;
  /** Extra folder the agent watches for capture files (VIGIL_CAPTURE_DIRS), outside the default ones. */
  captureDir: string;
  alerts(): Promise<AlertView[]>;
  /** Waits (default 5 s) for an alert matching `match`; returns it with the time waited. */
  alertMatching(
    what: string,
    match: (alert: AlertView) => boolean,
    timeoutMs?: number,
  ): Promise<{ alert: AlertView; elapsedMs: number }>;
  /** Events stored by the collector, filtered by type and an optional SQL condition on `data`. */
  events(type: string, where?: { sql: string; params: unknown[] }): Promise<EventRow[]>;
  stop(): Promise<void>;
}

export async function startE2eStack(options: { agentEnv?: NodeJS.ProcessEnv } = {}): Promise<E2eStack> {
  requireBuild();
  const stateDir = mkdtempSync(join(tmpdir(), 'vigil-e2e-agent-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-e2e-collector-'));
  // /run is not among the default watched folders, so only VIGIL_CAPTURE_DIRS brings it in.
  const captureDir = mkdtempSync(join(process.getuid?.() === 0 ? '/run' : tmpdir(), 'vigil-e2e-captures-'));
  const db = await freshPostgres();
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const collector = startNode('dist/collector/cli.js', ['start'], {
    PORT: String(port),
    DATABASE_URL: db.url,
    VIGIL_DATA_DIR: dataDir,
    VIGIL_ENROLL_SECRET: E2E_ENROLL_SECRET,
    VIGIL_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
  });
  let agent: Child | undefined;
  const stop = async () => {
    await agent?.stop();
    await collector.stop();
    await pool.end();
    await db.drop();
    for (const dir of [stateDir, dataDir, captureDir]) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'collector health',
      async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined),
      60_000,
    );
    agent = startNode(
      'dist/agent/cli.js',
      ['run', '--collector', base, '--enroll-secret', E2E_ENROLL_SECRET, '--state-dir', stateDir],
      { VIGIL_CAPTURE_DIRS: captureDir, ...options.agentEnv },
    );
    const started = agent;
    await waitFor(
      'agent connected',
      async () => (started.output().includes('connected to the collector') ? true : undefined),
      60_000,
    );
    // Let the first scans form the baseline and the folder watches finish their first crawl.
    await new Promise((r) => setTimeout(r, 3000));
  } catch (err) {
    const output = `collector:\n${collector.output().slice(-2000)}\nagent:\n${agent?.output().slice(-2000) ?? ''}`;
    await stop().catch(() => {});
    throw new Error(`${(err as Error).message}\n${output}`);
  }

  const alerts = async (): Promise<AlertView[]> => {
    const res = await fetch(`${base}/api/v1/alerts?limit=200`, {
      headers: { authorization: `Bearer ${E2E_ADMIN_TOKEN}` },
    });
    if (!res.ok) throw new Error(`GET /api/v1/alerts: ${res.status} ${await res.text()}`);
    const listed = ((await res.json()) as { alerts: Omit<AlertView, 'evidence'>[] }).alerts;
    // The list carries no evidence (that read is audited, per alert): the tests take it from the
    // database rather than reading every alert's detail on each poll.
    const { rows } = await pool.query<{ id: string; evidence: AlertView['evidence'] }>(
      'SELECT id::text AS id, evidence FROM alerts WHERE id = ANY($1::uuid[])',
      [listed.map((a) => a.id)],
    );
    const evidence = new Map(rows.map((row) => [row.id, row.evidence]));
    return listed.map((alert) => ({ ...alert, evidence: evidence.get(alert.id) ?? {} }));
  };

  return {
    base,
    agent: agent!,
    collector,
    captureDir,
    alerts,
    async alertMatching(what, match, timeoutMs = 5000) {
      const started = Date.now();
      const alert = await waitFor(what, async () => (await alerts()).find(match), timeoutMs);
      return { alert, elapsedMs: Date.now() - started };
    },
    async events(type, where) {
      const params = [type, ...(where?.params ?? [])];
      const condition = where ? ` AND (${where.sql})` : '';
      const { rows } = await pool.query<EventRow>(
        `SELECT type, data, time, received_at FROM events WHERE type = $1${condition} ORDER BY received_at`,
        params,
      );
      return rows;
    },
    stop,
  };
}

/** The user name owning a running process, as /etc/passwd names it. */
export function userOf(pid: number): string {
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return userNamed(Number(uid));
}

export function userNamed(uid: number): string {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === String(uid));
  return line?.split(':')[0] ?? String(uid);
}
