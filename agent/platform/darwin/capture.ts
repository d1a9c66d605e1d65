// macOS packet-capture view: who holds /dev/bpf* open (lsof field output) and which interfaces
// are in promiscuous mode (ifconfig flags). Parsers are pure and exported for tests.
import { readdir } from 'node:fs/promises';
import type { CaptureReader, CaptureSnapshot, PacketSocketOwner, ProcessLister } from '../types.js';
import { type RunTool, runTool } from './exec.js';

export interface BpfHolder {
  pid: number;
  fd: string;
  command: string;
  uid?: number;
  login?: string;
  device: string;
}

/**
 * `lsof -F pcuLfn` output: a process set (p, c, u, L lines) followed by one file set per open
 * file (f, n lines). Every line is one field: its first character names it.
 */
export function parseLsofFields(stdout: string): BpfHolder[] {
  const holders: BpfHolder[] = [];
  let proc: { pid: number; command: string; uid?: number; login?: string } | undefined;
  let fd: string | undefined;
  for (const line of stdout.split('\n')) {
    if (line.length < 2) continue;
    const field = line[0];
    const text = line.slice(1);
    switch (field) {
      case 'p':
        proc = { pid: Number(text), command: '' };
        fd = undefined;
        break;
      case 'c':
        if (proc) proc.command = text;
        break;
      case 'u':
        if (proc && /^\d+$/.test(text)) proc.uid = Number(text);
        break;
      case 'L':
        if (proc) proc.login = text;
        break;
      case 'f':
        fd = text;
        break;
      case 'n':
        if (proc && fd !== undefined && /\/bpf\d+$/.test(text)) {
          holders.push({ ...proc, fd, device: text });
        }
        break;
    }
  }
  return holders;
}

/** Interfaces whose flags include PROMISC in `ifconfig -a` output. */
export function parseIfconfigPromiscuous(stdout: string): Set<string> {
  const result = new Set<string>();
  for (const line of stdout.split('\n')) {
    const m = /^([^\s:]+):\s+flags=[0-9a-fA-F]+<([^>]*)>/.exec(line);
    if (m?.[2]?.split(',').includes('PROMISC')) result.add(m[1]!);
  }
  return result;
}

export function bpfSockets(holders: BpfHolder[]): PacketSocketOwner[] {
  return holders.map((h) => ({
    key: `${h.pid}:${h.fd}`,
    kind: 'bpf',
    pid: h.pid,
    name: h.command,
    ...(h.login !== undefined ? { user: h.login } : {}),
  }));
}

export interface DarwinCaptureReaderOptions {
  run?: RunTool;
  /** Fills exe and cmdline of bpf holders; lsof only knows the short command name. */
  processes?: ProcessLister;
  lsof?: string;
  ifconfig?: string;
  devDir?: string;
}

export function createDarwinCaptureReader(options: DarwinCaptureReaderOptions = {}): CaptureReader {
  const run = options.run ?? runTool;
  const lsof = options.lsof ?? '/usr/sbin/lsof';
  const ifconfig = options.ifconfig ?? '/sbin/ifconfig';
  const devDir = options.devDir ?? '/dev';

  async function readSockets(problems: string[]): Promise<PacketSocketOwner[]> {
    // No shell, so expand /dev/bpf* ourselves.
    const devices = (await readdir(devDir)).filter((n) => /^bpf\d+$/.test(n)).map((n) => `${devDir}/${n}`);
    if (devices.length === 0) return [];
    // +c 0: full command names; f is asked for explicitly (not every lsof adds it); exit 1 means no process holds any of them.
    const out = await run(lsof, ['-n', '-P', '+c', '0', '-F', 'pcuLfn', ...devices], [1]);
    const sockets = bpfSockets(parseLsofFields(out));
    if (options.processes && sockets.length > 0) {
      try {
        const details = await options.processes.details(sockets.map((s) => s.pid!));
        for (const socket of sockets) {
          const info = details.get(socket.pid!);
          if (info) Object.assign(socket, { exe: info.exe, cmdline: info.cmdline, user: info.user });
        }
      } catch (error) {
        problems.push(`bpf holder details: ${(error as Error).message}`);
      }
    }
    return sockets;
  }

  return {
    async snapshot(): Promise<CaptureSnapshot> {
      const problems: string[] = [];
      if (process.getuid?.() !== 0)
        problems.push('not root: /dev/bpf holders of other users are not visible');
      const [sockets, promiscuous] = await Promise.all([
        readSockets(problems).catch((error: Error) => {
          problems.push(`bpf holders: ${error.message}`);
          return [];
        }),
        run(ifconfig, ['-a'])
          .then(parseIfconfigPromiscuous)
          .catch((error: Error) => {
            problems.push(`interfaces: ${error.message}`);
            return new Set<string>();
          }),
      ]);
      return { promiscuous, sockets, drivers: [], problems };
    },
  };
}
