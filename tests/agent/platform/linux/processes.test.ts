// The Linux /proc readers and the process sensor on the real /proc of this machine.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createLinuxProcessLister } from '../../../../agent/platform/linux/processes.js';
import {
  listPids,
  ProcReader,
  parseRealUid,
  parseStat,
  readPseudoFile,
} from '../../../../agent/platform/linux/procfs.js';
import { createProcessSensor } from '../../../../agent/sensors/process.js';
import type { SensorContext } from '../../../../agent/sensors/sensor.js';
import type { EventData } from '../../../../shared/events.js';
import { defaultPolicy } from '../../../../shared/protocol.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('procfs parsing', () => {
  it('reads names with spaces and parentheses from stat', () => {
    const stat = '1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0';
    expect(parseStat(stat)).toEqual({ name: 'my (odd) name', ppid: 1, startTicks: 98765 });
    expect(parseStat('garbage')).toBeUndefined();
  });

  it('reads the real uid from status', () => {
    expect(parseRealUid('Name:\tx\nUid:\t1000\t0\t0\t0\n')).toBe(1000);
    expect(parseRealUid('Name:\tx\n')).toBeUndefined();
  });
});

describe('pseudo-file reads', () => {
  it('reads small and large files whole, and fails on a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-pseudo-'));
    try {
      const large = `${'x'.repeat(100_000)}end`;
      writeFileSync(join(dir, 'large'), large);
      writeFileSync(join(dir, 'small'), 'café\n');
      expect(readPseudoFile(join(dir, 'small'))).toBe('café\n');
      expect(readPseudoFile(join(dir, 'large'))).toBe(large);
      expect(() => readPseudoFile(join(dir, 'missing'))).toThrow(/ENOENT/);
      if (process.platform === 'linux') {
        // A /proc file reports size 0 and is still read whole.
        const status = readPseudoFile('/proc/self/status');
        expect(status).toMatch(new RegExp(`^Pid:\\s+${process.pid}$`, 'm'));
        expect(status.trimEnd().split('\n').length).toBeGreaterThan(20);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pid listing', () => {
  it('walks the directory again only when the last allocated pid moved', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'vigil-proc-'));
    try {
      for (const pid of ['1', '2', 'self', 'net']) mkdirSync(join(proc, pid));
      writeFileSync(join(proc, 'loadavg'), '0.00 0.01 0.05 1/80 2\n');
      const first = await listPids(proc);
      expect([...first].sort()).toEqual([1, 2]);
      // A directory appearing without the last pid moving is not there yet for the lister...
      mkdirSync(join(proc, '3'));
      expect(await listPids(proc)).toBe(first);
      // ...and is as soon as it moves.
      writeFileSync(join(proc, 'loadavg'), '0.00 0.01 0.05 1/81 3\n');
      expect([...(await listPids(proc))].sort()).toEqual([1, 2, 3]);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });

  it('walks every time where there is no loadavg', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'vigil-proc-'));
    try {
      mkdirSync(join(proc, '7'));
      expect(await listPids(proc)).toEqual([7]);
      mkdirSync(join(proc, '8'));
      expect([...(await listPids(proc))].sort()).toEqual([7, 8]);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });
});

describe.skipIf(process.platform !== 'linux')('linux process readers', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  it('lists our own pid and reads its details', async () => {
    expect(await listPids()).toContain(process.pid);
    const child = spawn('sleep', ['30']);
    children.push(child);
    expect(await listPids()).toContain(child.pid);
    const info = await new ProcReader().details(process.pid);
    expect(info?.pid).toBe(process.pid);
    expect(info?.exe).toBe(process.execPath);
    expect(info?.ppid).toBe(process.ppid);
    expect(Math.abs(info!.startTime.getTime() - (Date.now() - process.uptime() * 1000))).toBeLessThan(5000);
  });

  it('reports a pid again when it execs another program soon after it was first seen', async () => {
    const events: EventData<'process.start'>[] = [];
    const ctx: SensorContext = {
      emit(type, data) {
        if (type === 'process.start') events.push(data as EventData<'process.start'>);
      },
      log: pino({ level: 'silent' }),
      stateDir: '/tmp',
      policy: () => defaultPolicy,
      setHealth() {},
    };
    const sensor = createProcessSensor(createLinuxProcessLister(), { platform: 'linux' });
    await sensor.start(ctx);
    // A wrapper that stays itself for a while, then becomes sleep: a scan in between sees the wrapper.
    const child = spawn('sh', ['-c', 'read _ < /dev/null; sleep 0.4; exec sleep 30'], { stdio: 'ignore' });
    children.push(child);
    await sleep(100);
    await sensor.scan!();
    const first = events.filter((e) => e.pid === child.pid);
    expect(first.map((e) => e.name)).toEqual(['sh']);
    await sleep(700);
    await sensor.scan!();
    const all = events.filter((e) => e.pid === child.pid);
    expect(all.map((e) => e.name)).toEqual(['sh', 'sleep']);
    expect(all[1]!.exe).toMatch(/sleep$/);
    await sensor.scan!();
    expect(events.filter((e) => e.pid === child.pid)).toHaveLength(2);
    await sensor.stop();
  });
});
