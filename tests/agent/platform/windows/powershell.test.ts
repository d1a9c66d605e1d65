import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProcessInfo } from '../../../../agent/platform/types.js';
import {
  createWindowsBridge,
  defaultPowerShellCommand,
  powershellScriptPath,
  WindowsBridgeError,
} from '../../../../agent/platform/windows/powershell.js';
import { captureDriverServiceNames } from '../../../../shared/signatures/index.js';

const fixturePath = (name: string) =>
  fileURLToPath(new URL(`../../../fixtures/windows/${name}`, import.meta.url));
const replay = fixturePath('replay-powershell.mjs');
const tmp = mkdtempSync(join(tmpdir(), 'vigil-ps-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let logs = 0;
function replayCommand(fixtures: string[], crashRuns = 0) {
  const log = join(tmp, `replay-${++logs}.log`);
  const args = [replay, '--log', log, '--crash-runs', String(crashRuns), ...fixtures.map(fixturePath)];
  return { log, command: { file: process.execPath, args } };
}
const readLog = (log: string) => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('createWindowsBridge with a replayed PowerShell session', () => {
  it('streams the baseline, then new processes, and serves the capture state', async () => {
    const { log, command } = replayCommand(['bridge-admin.jsonl']);
    const problems: string[] = [];
    const bridge = createWindowsBridge({ command, onProblem: (p) => problems.push(p) });
    const seen: Array<{ info: ProcessInfo; existing: boolean }> = [];
    await bridge.processes.start((info, existing) => seen.push({ info, existing }));
    // start() resolves on the `ready` line: the baseline is complete by then.
    expect(seen.map((s) => [s.info.pid, s.existing])).toEqual([
      [0, true],
      [4, true],
      [5120, true],
      [7312, true],
    ]);
    await until(() => seen.length === 7);
    expect(seen.slice(4).map((s) => [s.info.name, s.existing])).toEqual([
      ['Wireshark.exe', false],
      ['dumpcap.exe', false],
      ['pktmon.exe', false],
    ]);
    expect(seen[4]!.info.startTime.toISOString()).toBe('2026-11-28T09:08:12.123Z');
    expect(seen[5]!.info.startTime.toISOString()).toBe('2026-11-28T09:12:00.000Z');
    expect(seen[5]!.info.cmdline).toContain(
      '-w C:\\Users\\agent1\\AppData\\Local\\Temp\\wireshark_Wi-Fi.pcapng',
    );

    const snapshot = await bridge.capture.snapshot();
    expect(snapshot.promiscuous).toEqual(new Set(['Wi-Fi']));
    expect(snapshot.sockets).toEqual([]);
    expect(snapshot.drivers.map((d) => [d.name, d.running])).toEqual([
      ['npcap', true],
      ['ndiscap', false],
    ]);
    await until(() => problems.length >= 2);
    expect(problems[0]).toMatch(/^not JSON: Get-NetAdapter : Access is denied\./);
    expect(problems[1]).toBe('PowerShell: process start 9190: Invalid query ');
    // A script error shows in snapshots until the next capture line replaces the state.
    expect((await bridge.capture.snapshot()).problems).toEqual([
      'PowerShell: process start 9190: Invalid query ',
    ]);

    await bridge.processes.stop();
    expect(readLog(log)).toEqual([expect.stringMatching(/^start \d+$/)]);
    await bridge.capture.close!();
    // The child was asked to stop over stdin, not killed.
    expect(readLog(log)).toEqual([expect.stringMatching(/^start \d+$/), 'stop']);
  });

  it('reports the poll-mode fallback and its capture problems', async () => {
    const { command } = replayCommand(['bridge-user.jsonl']);
    const problems: string[] = [];
    const bridge = createWindowsBridge({ command, onProblem: (p) => problems.push(p) });
    const snapshot = await bridge.capture.snapshot();
    expect(snapshot.promiscuous.size).toBe(0);
    expect(snapshot.problems[0]).toBe('Win32_SystemDriver: Access denied ');
    expect(problems[0]).toMatch(/process start events unavailable/);
    await bridge.capture.close!();
  });

  it('restarts a dead PowerShell with backoff and reports only processes not seen before', async () => {
    // Run 1 replays the admin session and dies; run 2 replays the user session (System and
    // explorer again, plus Fiddler, which started while the bridge was down).
    const { log, command } = replayCommand(['bridge-admin.jsonl', 'bridge-user.jsonl'], 1);
    const problems: string[] = [];
    const bridge = createWindowsBridge({
      command,
      restart: { initialMs: 50, maxMs: 200, stableMs: 60_000 },
      onProblem: (p) => problems.push(p),
    });
    const seen: Array<[string, boolean]> = [];
    await bridge.processes.start((info, existing) => seen.push([info.name, existing]));
    await until(() => seen.some(([name]) => name === 'Fiddler.exe'));
    expect(seen).toEqual([
      ['System Idle Process', true],
      ['System', true],
      ['explorer.exe', true],
      ['chrome.exe', true],
      ['Wireshark.exe', false],
      ['dumpcap.exe', false],
      ['pktmon.exe', false],
      ['Fiddler.exe', false],
    ]);
    expect(problems.some((p) => /^PowerShell bridge exited \(code 3/.test(p))).toBe(true);
    expect(readLog(log).filter((l) => l.startsWith('start'))).toHaveLength(2);
    await bridge.processes.stop();
    expect(readLog(log).at(-1)).toBe('stop');
  });

  it('lets a pending start() return when the stream is stopped before the baseline arrived', async () => {
    // A session that never says `ready`: only the first two baseline lines of the admin recording.
    const { command } = replayCommand(['bridge-partial.jsonl']);
    const bridge = createWindowsBridge({ command, readyTimeoutMs: 60_000 });
    const seen: number[] = [];
    const starting = bridge.processes.start((info) => seen.push(info.pid));
    await until(() => seen.length === 2);
    const started = Date.now();
    await bridge.processes.stop();
    await starting;
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('fails start() with a coded error when PowerShell is missing, and leaves nothing running', async () => {
    const bridge = createWindowsBridge({ command: { file: join(tmp, 'no-such-powershell.exe'), args: [] } });
    const error = await bridge.processes.start(() => {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WindowsBridgeError);
    expect((error as WindowsBridgeError).code).toBe('powershell_unavailable');
    await bridge.processes.stop();
  });
});

describe('defaultPowerShellCommand', () => {
  it('runs the shipped script once with the capture driver names', () => {
    const command = defaultPowerShellCommand({ captureIntervalSeconds: 20 });
    expect(command.file.toLowerCase()).toMatch(/windowspowershell[\\/]v1\.0[\\/]powershell\.exe$/);
    expect(command.args.slice(0, 7)).toEqual([
      '-NoLogo',
      '-NoProfile',
      '-NonInteractive',
      '-ExecutionPolicy',
      'Bypass',
      '-File',
      powershellScriptPath(),
    ]);
    expect(existsSync(powershellScriptPath())).toBe(true);
    expect(command.args).toContain('20');
    expect(command.args.at(-1)).toBe(captureDriverServiceNames().join(','));
    expect(command.args.at(-1)).toContain('WinDivert1.4');
  });

  it('keeps the script free of PowerShell 7-only syntax', () => {
    const script = readFileSync(powershellScriptPath(), 'utf8');
    const code = script
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
    expect(code).not.toMatch(/\?\?|\?\.|-AsHashtable|\$\w+\s+\?\s+/);
    for (const param of ['CaptureIntervalSeconds', 'PollIntervalSeconds', 'CaptureDriverNames']) {
      expect(script).toContain(`[${param === 'CaptureDriverNames' ? 'string' : 'int'}]$${param}`);
    }
  });
});
