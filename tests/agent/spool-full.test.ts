// A real disk-full condition under a running agent: its state directory is a tiny tmpfs that the
// test fills up. Events that cannot be spooled are counted, not silently lost; once space is back
// the count arrives at the collector as agent.spool_dropped (reason storage); and a spool failing
// inside the link's socket handlers never takes the process down.

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENROLL_SECRET, type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';
import { type Child, requireBuild, startNode, waitFor } from '../helpers/processes.js';

const SCRATCH = tmpdir();

/** Mounting a tmpfs needs root (CAP_SYS_ADMIN); CI runs as root, elsewhere this skips. */
function canMountTmpfs(): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI) throw new Error('the disk-full test needs root (tmpfs mount) in CI');
  console.warn('skipping the disk-full test: not root');
  return false;
}

/** Writes zeros into `file` until the file system is full. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // The last partial chunk: fill the final bytes too.
  const tail = openSync(file, 'a');
  try {
    for (;;) writeSync(tail, Buffer.alloc(512));
  } catch {
    // ENOSPC: full to the byte.
  } finally {
    closeSync(tail);
  }
}

/**
 * Short-lived processes: each is a process.start event the agent must spool. Their command lines
 * carry 8 kB of padding: SQLite first reuses the room its WAL and free pages already hold, which an
 * agent that spooled a lot before the disk filled may have plenty of; big events use it up quickly.
 */
const PADDING = 'x'.repeat(8192);
async function startProcesses(count: number): Promise<void> {
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise((resolve) =>
          spawn('sh', ['-c', `sleep 1.${i % 10} # ${PADDING}`], { stdio: 'ignore' }).on('exit', resolve),
        ),
    ),
  );
}

describe.skipIf(!canMountTmpfs())('agent with a full disk under its spool', () => {
  let collector: RunningCollector;
  let mountPoint: string;
  let agent: Child | undefined;

  beforeAll(async () => {
    requireBuild();
    mkdirSync(SCRATCH, { recursive: true });
    mountPoint = mkdtempSync(join(SCRATCH, 'tiny-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
    collector = await startCollector(engines[0]!);
  }, 120_000);

  afterAll(async () => {
    await agent?.stop('SIGKILL');
    await collector?.close();
    try {
      execFileSync('umount', [mountPoint]);
    } catch {}
    rmSync(mountPoint, { recursive: true, force: true });
  });

  it('counts what it could not store and reports it once the disk has room again', async () => {
    const stateDir = join(mountPoint, 'state');
    agent = startNode(
      'dist/agent/cli.js',
      ['run', '--collector', collector.url, '--enroll-secret', ENROLL_SECRET, '--state-dir', stateDir],
      {},
    );
    const running = agent;
    await waitFor(
      'connected',
      async () => (running.output().includes('connected to the collector') ? true : undefined),
      60_000,
    );
    const agentId = /"agentId":"([0-9a-f-]{36})"/.exec(running.output())?.[1];
    expect(agentId).toBeDefined();

    const filler = join(mountPoint, 'filler');
    fillUp(filler);
    await startProcesses(5);
    await waitFor(
      'a failed spool write',
      async () => {
        if (!running.output().includes('could not write events to the spool')) await startProcesses(20);
        return running.output().includes('could not write events to the spool') ? true : undefined;
      },
      60_000,
    );
    // Still alive: neither the failed append nor a failing takeBatch/ack in the link crashed it.
    expect(running.process.exitCode).toBeNull();

    rmSync(filler);
    const report = await waitFor(
      'agent.spool_dropped (storage) at the collector',
      async () => {
        await startProcesses(1);
        const { rows } = await collector.testDb.db.query<{ data: { dropped: number; reason: string } }>(
          `SELECT data FROM events WHERE agent_id = $1 AND type = 'agent.spool_dropped'`,
          [agentId],
        );
        return rows.find((row) => row.data.reason === 'storage');
      },
      60_000,
    );
    expect(report.data.dropped).toBeGreaterThanOrEqual(1);
    expect(running.output().match(/could not write events to the spool/g)?.length).toBe(1);
    expect(running.process.exitCode).toBeNull();
    expect(await running.stop('SIGTERM')).toBe(0);
  }, 240_000);
});
