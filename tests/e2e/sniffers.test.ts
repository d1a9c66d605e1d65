// Real sniffers against the whole chain (collector on PostgreSQL + agent, as child processes), on a
// veth pair whose inner end lives in a network namespace: tshark (through its dumpcap child),
// ngrep, a neutral-named raw AF_PACKET python script, tcpdump without and with promiscuous mode,
// and tcpdump writing a capture file. Each must turn into an alert within 5 s.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../helpers/db.js';
import { type AlertView, type E2eStack, startE2eStack, userNamed, userOf } from '../helpers/e2e.js';
import { canUseNetns, createVethPair, hasTool, type VethPair } from '../helpers/netns.js';
import { waitFor } from '../helpers/processes.js';

const tools = ['tcpdump', 'tshark', 'dumpcap', 'ngrep', 'python3'];
const ready = canUseNetns() && tools.every((tool) => hasTool(tool)) && (await postgresAvailable());

const BY_NAME_RULE = /^Packet sniffer or interception tool started \(linux/;
const SOCKET_RULE = 'Packet Capture Socket Held By A Process';
const PROMISCUOUS_RULE = 'Network Interface In Promiscuous Mode';
const FILE_RULE = 'Packet Capture File Written';

const exeOf = (pid: number) =>
  execFileSync('readlink', ['-f', `/proc/${pid}/exe`])
    .toString()
    .trim();
const ppidOf = (pid: number) =>
  Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
const commOf = (pid: number) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

/** Whether the process holds an AF_PACKET socket yet: from then on the agent has something to see. */
function holdsPacketSocket(pid: number): boolean {
  try {
    const inodes = new Set(
      readFileSync(`/proc/${pid}/net/packet`, 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/)[8]),
    );
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: 'utf8' });
      return link.startsWith('socket:[') && inodes.has(link.slice(8, -1));
    });
  } catch {
    return false;
  }
}

/** Tools start slowly on a loaded machine (tshark loads every dissector): the clock starts once capturing. */
const capturing = (pid: number, timeoutMs = 30_000) =>
  waitFor(`pid ${pid} capturing`, async () => (holdsPacketSocket(pid) ? Date.now() : undefined), timeoutMs);

/** A child of `parent` named `comm` that holds a packet socket (tshark also runs short-lived dumpcaps to list interfaces). */
function capturingChild(parent: number, comm: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      if (ppidOf(pid) === parent && commOf(pid) === comm && holdsPacketSocket(pid)) return pid;
    } catch {
      // exited meanwhile
    }
  }
  return undefined;
}

describe.skipIf(!ready)('real sniffers become alerts', () => {
  let veth: VethPair;
  let stack: E2eStack;
  let scriptDir: string;
  const sniffers: ChildProcess[] = [];

  beforeAll(async () => {
    veth = createVethPair();
    scriptDir = mkdtempSync(join(tmpdir(), 'x-'));
    stack = await startE2eStack();
  }, 120_000);

  afterAll(async () => {
    for (const s of sniffers) s.kill('SIGKILL');
    await stack?.stop();
    veth?.remove();
    rmSync(scriptDir, { recursive: true, force: true });
  });

  /** Starts a command inside the namespace; `ip netns exec` execs it, so the pid is the tool's own. */
  function inNamespace(command: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', veth.namespace, command, ...args], { stdio: 'ignore' });
    sniffers.push(child);
    return child;
  }

  function inRoot(command: string, args: string[]): ChildProcess {
    const child = spawn(command, args, { stdio: 'ignore' });
    sniffers.push(child);
    return child;
  }

  const socketAlertFor = (pid: number) =>
    stack.alertMatching(
      `a packet-socket alert naming pid ${pid}`,
      (a) => a.ruleTitle === SOCKET_RULE && a.evidence.pid === pid && a.tags.includes('attack.t1040'),
    );

  const byNameAlertFor = (pid: number) =>
    stack.alertMatching(
      `a sniffer-by-name alert naming pid ${pid}`,
      (a) =>
        BY_NAME_RULE.test(a.ruleTitle) && a.evidence.eventType === 'process.start' && a.evidence.pid === pid,
    );

  async function waitForExec(child: ChildProcess, comm: string): Promise<{ pid: number; at: number }> {
    const pid = child.pid!;
    return waitFor(
      `${comm} running`,
      async () => (commOf(pid) === comm ? { pid, at: Date.now() } : undefined),
      30_000,
    );
  }

  /** What the collector stored about a pid, to make a timeout say why. */
  async function storedAbout(pid: number): Promise<string> {
    const rows = await stack.events('process.start', { sql: "(data->>'pid')::int = $2", params: [pid] });
    const sockets = await stack.events('capture.packet_socket', {
      sql: "(data->>'pid')::int = $2",
      params: [pid],
    });
    return JSON.stringify({
      processStart: rows.map((r) => r.data),
      packetSocket: sockets.map((r) => r.data),
    });
  }

  async function explained<T>(pid: number, wait: Promise<T>): Promise<T> {
    try {
      return await wait;
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; stored for pid ${pid}: ${await storedAbout(pid)}\nagent log:\n${stack.agent.output().slice(-3000)}`,
      );
    }
  }

  it('tshark: the packet socket alert names its dumpcap child; tshark is also caught by name', async () => {
    const tshark = inNamespace('tshark', ['-i', veth.inside, '-n', '-q']);
    const { pid: tsharkPid, at: tsharkAt } = await waitForExec(tshark, 'tshark');
    const byName = await explained(tsharkPid, byNameAlertFor(tsharkPid));
    expect(byName.alert.evidence.exe).toBe(exeOf(tsharkPid));
    const byNameMs = Date.now() - tsharkAt;
    expect(byNameMs).toBeLessThan(5000);
    // tshark loads all its dissectors before it starts dumpcap: slow on a loaded machine.
    const dumpcapPid = await waitFor(
      'a capturing dumpcap child',
      async () => capturingChild(tsharkPid, 'dumpcap'),
      60_000,
    );
    const capturingAt = Date.now();
    const { alert } = await explained(dumpcapPid, socketAlertFor(dumpcapPid));
    const socketMs = Date.now() - capturingAt;
    expect(alert.level).toBe('high');
    expect(alert.evidence.exe).toBe(exeOf(dumpcapPid));
    expect(alert.evidence.exe).toMatch(/\/dumpcap$/);
    expect(alert.evidence.name).toBe('dumpcap');
    expect(alert.evidence.user).toBe(userOf(dumpcapPid));
    expect(socketMs).toBeLessThan(5000);
    console.log(`tshark → by-name alert in ${byNameMs} ms; dumpcap socket alert in ${socketMs} ms`);
  }, 120_000);

  it('ngrep: caught by its packet socket and by name', async () => {
    const ngrep = inNamespace('ngrep', ['-q', '-d', veth.inside, 'password']);
    const { pid, at } = await waitForExec(ngrep, 'ngrep');
    const byName = await explained(pid, byNameAlertFor(pid));
    expect(byName.alert.level).toBe('high');
    expect(byName.alert.evidence.exe).toBe(exeOf(pid));
    const byNameMs = Date.now() - at;
    const capturingAt = await capturing(pid);
    const { alert } = await explained(pid, socketAlertFor(pid));
    const socketMs = Date.now() - capturingAt;
    expect(alert.evidence.exe).toBe(exeOf(pid));
    expect(alert.evidence.exe).toMatch(/\/ngrep$/);
    expect(byNameMs).toBeLessThan(5000);
    expect(socketMs).toBeLessThan(5000);
    console.log(`ngrep → by-name alert in ${byNameMs} ms, socket alert in ${socketMs} ms`);
  });

  it('a neutral-named python AF_PACKET script: the alert names python, its pid and command line', async () => {
    const dir = join(scriptDir, 'x');
    mkdirSync(dir, { recursive: true });
    const script = join(dir, 'sync-helper.py');
    writeFileSync(
      script,
      [
        'import socket, sys',
        's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))',
        's.bind((sys.argv[1], 0))',
        'while True:',
        '    s.recv(65535)',
        '',
      ].join('\n'),
    );
    // The distribution's python, not a version-manager shim (a shell script that execs it later).
    const python3 = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    const python = inNamespace(python3, [script, veth.inside]);
    const capturingAt = await capturing(python.pid!);
    const { alert } = await explained(python.pid!, socketAlertFor(python.pid!));
    const elapsed = Date.now() - capturingAt;
    expect(alert.evidence.name).toMatch(/^python3/);
    expect(alert.evidence.exe).toBe(exeOf(python.pid!));
    expect(alert.evidence.cmdline).toContain('sync-helper.py');
    expect(alert.evidence.user).toBe(userOf(python.pid!));
    expect(elapsed).toBeLessThan(5000);
    console.log(`python AF_PACKET → alert in ${elapsed} ms`);
  });

  it('tcpdump -p: caught by its socket, and no promiscuous event for that interface', async () => {
    const tcpdump = inRoot('tcpdump', ['-p', '-n', '-i', veth.outside]);
    const capturingAt = await capturing(tcpdump.pid!);
    const { alert } = await explained(tcpdump.pid!, socketAlertFor(tcpdump.pid!));
    const elapsed = Date.now() - capturingAt;
    expect(alert.evidence.interface).toBe(veth.outside);
    expect(elapsed).toBeLessThan(5000);
    // Two more scan intervals: a promiscuous switch would have been reported by now.
    await new Promise((r) => setTimeout(r, 2500));
    const promiscuous = await stack.events('capture.promiscuous', {
      sql: "data->>'interface' = $2",
      params: [veth.outside],
    });
    expect(promiscuous).toEqual([]);
    expect(Number.parseInt(readFileSync(`/sys/class/net/${veth.outside}/flags`, 'utf8'), 16) & 0x100).toBe(0);
    tcpdump.kill('SIGKILL');
    console.log(`tcpdump -p → alert in ${elapsed} ms, no promiscuous event`);
  });

  it('tcpdump in promiscuous mode on the root-namespace end: a promiscuous event and alert for it', async () => {
    const tcpdump = inRoot('tcpdump', ['-n', '-i', veth.outside]);
    const started = await capturing(tcpdump.pid!);
    const { alert } = await stack.alertMatching(
      `a promiscuous alert for ${veth.outside}`,
      (a: AlertView) => a.ruleTitle === PROMISCUOUS_RULE && a.evidence.interface === veth.outside,
    );
    const elapsed = Date.now() - started;
    expect(alert.evidence.promiscuous).toBe(true);
    const [event] = await stack.events('capture.promiscuous', {
      sql: "data->>'interface' = $2",
      params: [veth.outside],
    });
    expect(event?.data).toMatchObject({ interface: veth.outside, promiscuous: true });
    const holders = (event?.data.holders ?? []) as { pid: number }[];
    expect(holders.map((h) => h.pid)).toContain(tcpdump.pid);
    expect(elapsed).toBeLessThan(5000);
    console.log(`promiscuous tcpdump → alert in ${elapsed} ms`);
  });

  it('tcpdump -w into a watched folder raises a capture-file event and alert naming the writer', async () => {
    const file = join(stack.captureDir, 'x.pcap');
    const tcpdump = inNamespace('tcpdump', ['-n', '-U', '-i', veth.inside, '-w', file]);
    const started = await capturing(tcpdump.pid!);
    const { alert } = await stack.alertMatching(
      `a capture-file alert for ${file}`,
      (a) => a.ruleTitle === FILE_RULE && a.evidence.path === file,
    );
    const elapsed = Date.now() - started;
    expect(alert.evidence.extension).toBe('pcap');
    expect(alert.evidence.pid).toBe(tcpdump.pid);
    expect(alert.evidence.exe).toBe(exeOf(tcpdump.pid!));
    expect(alert.evidence.owner).toBe(userNamed(statSync(file).uid));
    const events = await stack.events('capture.file', { sql: "data->>'path' = $2", params: [file] });
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({
      path: file,
      extension: 'pcap',
      pid: tcpdump.pid,
      name: 'tcpdump',
    });
    expect(elapsed).toBeLessThan(5000);
    console.log(`tcpdump -w → capture-file alert in ${elapsed} ms`);
  });
});
