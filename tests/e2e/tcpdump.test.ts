// The whole chain on real parts: a collector on real PostgreSQL and an agent, both as child
// processes; a real tcpdump on a veth in a network namespace becomes an alert naming it — and
// so does the same binary copied to a neutral name.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable } from '../helpers/db.js';
import { canUseNetns, createVethPair, hasTool, type VethPair } from '../helpers/netns.js';
import { type Child, freePort, requireBuild, startNode, waitFor } from '../helpers/processes.js';

const ready = canUseNetns() && hasTool('tcpdump') && (await postgresAvailable());
const ADMIN = 'vgl_e2e_admin';
const SECRET = 'e2e-enroll-secret';

interface AlertView {
  ruleId: string;
  ruleTitle: string;
  level: string;
  tags: string[];
  evidence: { pid?: number; exe?: string; user?: string; name?: string };
}

function userOf(pid: number): string {
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[2] === uid);
  return line?.split(':')[0] ?? uid;
}

describe.skipIf(!ready)('a real tcpdump becomes an alert', () => {
  let veth: VethPair;
  let collector: Child;
  let agent: Child;
  let base: string;
  let dropDb: () => Promise<void>;
  const stateDir = mkdtempSync(join(tmpdir(), 'vigil-e2e-agent-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-e2e-collector-'));
  const sniffers: ChildProcess[] = [];

  beforeAll(async () => {
    requireBuild();
    veth = createVethPair();
    const db = await freshPostgres();
    dropDb = db.drop;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    collector = startNode('dist/collector/cli.js', ['start'], {
      PORT: String(port),
      DATABASE_URL: db.url,
      VIGIL_DATA_DIR: dataDir,
      VIGIL_ENROLL_SECRET: SECRET,
      VIGIL_ADMIN_TOKEN: ADMIN,
    });
    await waitFor(
      'collector health',
      async () => ((await fetch(`${base}/healthz`)).ok ? true : undefined),
      60_000,
    );
    agent = startNode(
      'dist/agent/cli.js',
      ['run', '--collector', base, '--enroll-secret', SECRET, '--state-dir', stateDir],
      {},
    );
    await waitFor(
      'agent connected',
      async () => (agent.output().includes('connected to the collector') ? true : undefined),
      60_000,
    );
    // Let the first scans form the baseline.
    await new Promise((r) => setTimeout(r, 1500));
  }, 120_000);

  afterAll(async () => {
    for (const s of sniffers) s.kill('SIGKILL');
    await agent?.stop();
    await collector?.stop();
    veth?.remove();
    await dropDb?.();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function alertFor(pid: number): Promise<{ alert: AlertView; elapsedMs: number }> {
    const started = Date.now();
    const alert = await waitFor(
      `an alert naming pid ${pid}`,
      async () => {
        const res = await fetch(`${base}/api/v1/alerts?limit=100`, {
          headers: { authorization: `Bearer ${ADMIN}` },
        });
        const body = (await res.json()) as { alerts: AlertView[] };
        return body.alerts.find((a) => a.evidence.pid === pid && a.tags.includes('attack.t1040'));
      },
      5000,
    );
    return { alert, elapsedMs: Date.now() - started };
  }

  function sniff(command: string, args: string[]): ChildProcess {
    const child = spawn(command, args, { stdio: 'ignore' });
    sniffers.push(child);
    return child;
  }

  it('names tcpdump started inside a network namespace: pid, exe and user', async () => {
    const tcpdump = sniff('ip', ['netns', 'exec', veth.namespace, 'tcpdump', '-i', veth.inside, '-n']);
    const { alert, elapsedMs } = await alertFor(tcpdump.pid!);
    const exe = execFileSync('readlink', ['-f', `/proc/${tcpdump.pid}/exe`])
      .toString()
      .trim();
    expect(alert.level).toBe('high');
    expect(alert.evidence.exe).toBe(exe);
    expect(alert.evidence.exe).toMatch(/tcpdump$/);
    expect(alert.evidence.user).toBe(userOf(tcpdump.pid!));
    console.log(`tcpdump (namespace) → alert in ${elapsedMs} ms`);
  });

  it('catches the same binary under a neutral name by its packet socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x-'));
    const renamed = join(dir, 'updater');
    copyFileSync(execFileSync('sh', ['-c', 'command -v tcpdump']).toString().trim(), renamed);
    execFileSync('chmod', ['755', renamed]);
    const sniffer = sniff(renamed, ['-i', veth.outside, '-n']);
    const { alert, elapsedMs } = await alertFor(sniffer.pid!);
    expect(alert.evidence.exe).toBe(renamed);
    expect(alert.evidence.name).toBe('updater');
    expect(alert.evidence.user).toBe(userOf(sniffer.pid!));
    console.log(`renamed tcpdump → alert in ${elapsedMs} ms`);
    sniffer.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
});
