import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bpfSockets,
  createDarwinCaptureReader,
  parseIfconfigPromiscuous,
  parseLsofFields,
} from '../../../../agent/platform/darwin/capture.js';
import { createDarwinProcessLister } from '../../../../agent/platform/darwin/processes.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/darwin/${name}`, import.meta.url), 'utf8');

describe('darwin capture parsers', () => {
  it('parses lsof field output into bpf holders', () => {
    const holders = parseLsofFields(fixture('lsof-bpf.txt'));
    expect(holders).toEqual([
      { pid: 5123, command: 'dumpcap', uid: 0, login: 'root', fd: '4', device: '/dev/bpf1' },
      { pid: 6001, command: 'tcpdump', uid: 0, login: 'root', fd: '3', device: '/dev/bpf2' },
      { pid: 6001, command: 'tcpdump', uid: 0, login: 'root', fd: '5', device: '/dev/bpf3' },
      {
        pid: 7002,
        command: 'Fiddler Everywhere Helper',
        uid: 501,
        login: 'agent',
        fd: '31',
        device: '/dev/bpf0',
      },
    ]);
    expect(bpfSockets(holders).map((s) => s.key)).toEqual(['5123:4', '6001:3', '6001:5', '7002:31']);
    expect(bpfSockets(holders)[0]).toEqual({
      key: '5123:4',
      kind: 'bpf',
      pid: 5123,
      name: 'dumpcap',
      user: 'root',
    });
  });

  it('ignores files that are not bpf devices and empty output', () => {
    expect(parseLsofFields('p1\nclaunchd\nu0\nf3\nn/dev/null\n')).toEqual([]);
    expect(parseLsofFields('')).toEqual([]);
  });

  it('finds promiscuous interfaces in ifconfig -a', () => {
    expect([...parseIfconfigPromiscuous(fixture('ifconfig-a.txt'))]).toEqual(['en0', 'bridge0']);
    expect(parseIfconfigPromiscuous('lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n').size).toBe(
      0,
    );
  });
});

// lsof and ifconfig run for real: a child process holds a file named like a bpf device open in a
// temporary directory that stands in for /dev.
describe('createDarwinCaptureReader against the local lsof and ifconfig', () => {
  const tools = {
    lsof: ['/usr/sbin/lsof', '/usr/bin/lsof'],
    ifconfig: ['/sbin/ifconfig', '/usr/sbin/ifconfig'],
  };
  const lsof = tools.lsof.find(existsSync);
  const ifconfig = tools.ifconfig.find(existsSync);
  const missing = !lsof || !ifconfig;
  if (missing && process.env.CI) throw new Error('lsof and ifconfig are required in CI');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bpf-'));
  let holder: ChildProcess | undefined;
  afterAll(() => {
    holder?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(missing)('reports the holder of a bpf device with its details', async () => {
    writeFileSync(join(dir, 'bpf7'), '');
    writeFileSync(join(dir, 'notbpf'), '');
    holder = spawn(
      process.execPath,
      [
        '-e',
        `require('fs').openSync(${JSON.stringify(join(dir, 'bpf7'))}, 'r'); console.log('open'); setInterval(() => {}, 1000)`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => holder!.stdout!.once('data', resolve));
    const reader = createDarwinCaptureReader({
      lsof,
      ifconfig,
      devDir: dir,
      processes: createDarwinProcessLister({ ps: 'ps' }),
    });
    const snapshot = await reader.snapshot();
    const socket = snapshot.sockets.find((s) => s.pid === holder!.pid);
    expect(socket).toMatchObject({ kind: 'bpf', pid: holder.pid, name: 'node' });
    expect(socket!.key).toMatch(new RegExp(`^${holder.pid}:\\d+$`));
    expect(socket!.cmdline).toContain('openSync');
    expect(snapshot.drivers).toEqual([]);
    expect(snapshot.problems.filter((p) => !p.startsWith('not root'))).toEqual([]);
  });

  it.skipIf(missing)(
    'reports no sockets when nothing holds a device and a problem when a tool fails',
    async () => {
      const empty = mkdtempSync(join(tmpdir(), 'vigil-nobpf-'));
      const reader = createDarwinCaptureReader({ lsof, ifconfig: '/nonexistent/ifconfig', devDir: empty });
      const snapshot = await reader.snapshot();
      rmSync(empty, { recursive: true });
      expect(snapshot.sockets).toEqual([]);
      expect(snapshot.promiscuous.size).toBe(0);
      expect(snapshot.problems.some((p) => p.startsWith('interfaces: '))).toBe(true);
    },
  );
});
