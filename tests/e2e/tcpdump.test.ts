// The whole chain on real parts: a collector on real PostgreSQL and an agent, both as child
// processes; a real tcpdump on a veth in a network namespace becomes an alert naming it — and
// so does the same binary copied to a neutral name.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../helpers/db.js';
import { type E2eStack, startE2eStack, userOf } from '../helpers/e2e.js';
import { canUseNetns, createVethPair, hasTool, type VethPair } from '../helpers/netns.js';

const ready = canUseNetns() && hasTool('tcpdump') && (await postgresAvailable());

describe.skipIf(!ready)('a real tcpdump becomes an alert', () => {
  let veth: VethPair;
  let stack: E2eStack;
  const sniffers: ChildProcess[] = [];

  beforeAll(async () => {
    veth = createVethPair();
    stack = await startE2eStack();
  }, 120_000);

  afterAll(async () => {
    for (const s of sniffers) s.kill('SIGKILL');
    await stack?.stop();
    veth?.remove();
  });

  const alertFor = (pid: number) =>
    stack.alertMatching(
      `an alert naming pid ${pid}`,
      (a) => a.evidence.pid === pid && a.tags.includes('attack.t1040'),
    );

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
