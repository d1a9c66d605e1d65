// The real agent program (dist/agent/cli.js) as a child process against a real collector:
// identity on disk (0600 in a 0700 directory), a clean SIGTERM (exit 0, agent.stopping stored),
// --collector overriding the URL saved at enrollment, a revoked agent that stays down until
// `vigil-agent enroll`, and where its logs go.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../collector/app.js';
import {
  ENROLL_SECRET,
  type RunningCollector,
  startCollector,
  testCollectorConfig,
} from '../helpers/collector.js';
import { engines } from '../helpers/db.js';
import { type Child, repoRoot, requireBuild, startNode, waitFor } from '../helpers/processes.js';

const SCRATCH = tmpdir();
const CONNECTED = 'connected to the collector';

interface SavedIdentity {
  agentId: string;
  token: string;
  collectorUrl: string;
}

describe('vigil-agent run as a process', () => {
  let collector: RunningCollector;
  const dirs: string[] = [];
  const children: Child[] = [];

  beforeAll(async () => {
    requireBuild();
    mkdirSync(SCRATCH, { recursive: true });
    collector = await startCollector(engines[0]!);
  });
  afterAll(async () => {
    for (const child of children) await child.stop('SIGKILL');
    await collector?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const stateDirFor = () => {
    const parent = mkdtempSync(join(SCRATCH, 'run-'));
    dirs.push(parent);
    // Not created yet: the agent creates it, and its mode is what the agent chose.
    return join(parent, 'state');
  };

  // Sensors are not the subject here; a light set keeps the child cheap.
  const agentEnv = { VIGIL_LOG_LEVEL: 'debug' };

  function runAgent(args: string[], env: NodeJS.ProcessEnv = {}): Child {
    const child = startNode('dist/agent/cli.js', ['run', ...args], { ...agentEnv, ...env });
    children.push(child);
    return child;
  }

  /** A first start: enrolls with the group secret, then runs. */
  const enrollAndRun = (stateDir: string) =>
    runAgent(['--collector', collector.url, '--enroll-secret', ENROLL_SECRET, '--state-dir', stateDir]);

  const exitOf = (child: Child, timeoutMs = 30_000) =>
    new Promise<number | null>((resolve, reject) => {
      if (child.process.exitCode !== null) return resolve(child.process.exitCode);
      const timer = setTimeout(
        () => reject(new Error(`no exit:\n${child.output().slice(-3000)}`)),
        timeoutMs,
      );
      child.process.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });

  const connected = (child: Child) =>
    waitFor('agent connected', async () => (child.output().includes(CONNECTED) ? true : undefined), 60_000);

  const identityIn = (stateDir: string) =>
    JSON.parse(readFileSync(join(stateDir, 'identity.json'), 'utf8')) as SavedIdentity;

  it('keeps its identity private, stops cleanly on SIGTERM, and follows --collector to a moved collector', async () => {
    const stateDir = stateDirFor();
    const first = enrollAndRun(stateDir);
    await connected(first);
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(stateDir, 'identity.json')).mode & 0o777).toBe(0o600);
    const enrolled = identityIn(stateDir);
    expect(enrolled.collectorUrl).toBe(collector.url);

    // SIGTERM: exit 0, and agent.stopping reaches the collector before the process ends.
    expect(await first.stop('SIGTERM')).toBe(0);
    const stopping = await collector.testDb.db.query<{ reason: string }>(
      `SELECT data->>'reason' AS reason FROM events WHERE agent_id = $1 AND type = 'agent.stopping'`,
      [enrolled.agentId],
    );
    expect(stopping.rows.map((row) => row.reason)).toEqual(['signal SIGTERM']);

    // The collector moves to another port (same database): the saved URL is dead, --collector wins.
    const moved = await buildApp(testCollectorConfig(collector.testDb.dataDir), {
      db: collector.testDb.db,
      logger: false,
    });
    try {
      await moved.listen({ port: 0, host: '127.0.0.1' });
      const address = moved.server.address();
      const movedUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      const second = runAgent(['--state-dir', stateDir], { VIGIL_COLLECTOR_URL: movedUrl });
      await connected(second);
      expect(moved.agentSessions.has(enrolled.agentId)).toBe(true);
      expect(second.output()).not.toContain('cannot enroll');
      const saved = identityIn(stateDir);
      expect(saved).toMatchObject({
        agentId: enrolled.agentId,
        token: enrolled.token,
        collectorUrl: movedUrl,
      });
      expect(statSync(join(stateDir, 'identity.json')).mode & 0o777).toBe(0o600);
      expect(await second.stop('SIGTERM')).toBe(0);
    } finally {
      await moved.close();
    }
  }, 120_000);

  it('stays down once revoked (exit 3, a marker) until `vigil-agent enroll` succeeds', async () => {
    const stateDir = stateDirFor();
    const first = enrollAndRun(stateDir);
    await connected(first);
    expect(await first.stop('SIGTERM')).toBe(0);
    const { agentId } = identityIn(stateDir);
    await collector.testDb.db.query('UPDATE agents SET revoked_at = now() WHERE id = $1', [agentId]);

    // The token is refused at the upgrade (401): one revoked message, no link noise, exit 3.
    const refused = runAgent(['--collector', collector.url, '--state-dir', stateDir]);
    expect(await exitOf(refused)).toBe(3);
    const output = refused.output();
    expect(output.match(/the collector refused this agent/g)?.length, output).toBe(1);
    expect(output).not.toMatch(/collector link error|reconnecting to the collector/);
    const marker = JSON.parse(readFileSync(join(stateDir, 'revoked'), 'utf8')) as { reason: string };
    expect(marker.reason).toMatch(/revoked/);

    // Restarted (as a service manager would): refuses at once, before any sensor or connection.
    const restarted = runAgent(['--collector', collector.url, '--state-dir', stateDir]);
    expect(await exitOf(restarted)).toBe(3);
    expect(restarted.output()).toMatch(/\[agent_revoked\].*vigil-agent enroll/);
    expect(restarted.output()).not.toMatch(/agent running|sensor/);

    // Under launchd / WinSW the same refusal exits 0, which they do not restart.
    const underLaunchd = runAgent(['--collector', collector.url, '--state-dir', stateDir], {
      VIGIL_SERVICE_MANAGER: 'launchd',
    });
    expect(await exitOf(underLaunchd)).toBe(0);

    // Explicit re-enrollment lifts the marker; the agent runs again under its new identity.
    // Asynchronously: the collector runs in this process and must answer meanwhile.
    await promisify(execFile)(
      process.execPath,
      [
        join(repoRoot, 'dist/agent/cli.js'),
        'enroll',
        '--collector',
        collector.url,
        '--enroll-secret',
        ENROLL_SECRET,
        '--state-dir',
        stateDir,
      ],
      { encoding: 'utf8' },
    );
    expect(existsSync(join(stateDir, 'revoked'))).toBe(false);
    expect(identityIn(stateDir).agentId).not.toBe(agentId);
    const again = runAgent(['--collector', collector.url, '--state-dir', stateDir]);
    await connected(again);
    expect(await again.stop('SIGTERM')).toBe(0);
  }, 120_000);

  it('with --log-dir and no terminal, logs to the rotated file only; --insecure is said on stderr first', async () => {
    const stateDir = stateDirFor();
    const logDir = join(stateDir, '..', 'logs');
    // No identity and no collector yet: the agent waits to enroll, logging as it retries.
    const child = startNode(
      'dist/agent/cli.js',
      [
        'run',
        '--collector',
        'https://127.0.0.1:9',
        '--enroll-secret',
        'x',
        '--state-dir',
        stateDir,
        '--log-dir',
        logDir,
        '--insecure',
      ],
      {},
    );
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.process.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.process.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const logText = () =>
      existsSync(logDir)
        ? readdirSync(logDir)
            .filter((name) => name.startsWith('agent'))
            .map((name) => readFileSync(join(logDir, name), 'utf8'))
            .join('')
        : '';
    await waitFor(
      'a retry logged in the file',
      async () => (logText().includes('cannot enroll yet') ? true : undefined),
      30_000,
    );
    expect(stdout).toBe('');
    expect(stderr).toMatch(/WARNING: TLS verification is OFF/);
    // Said before enrolling, and in the log at warn level.
    const warn = logText()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .find((line) => line.msg.includes('TLS verification is OFF'));
    expect(warn?.level).toBe(40);
    expect(await child.stop('SIGTERM')).toBe(0);
  }, 120_000);
});
