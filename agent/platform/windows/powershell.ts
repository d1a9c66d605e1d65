// The Windows platform bridge: ONE long-lived PowerShell child running vigil-agent.ps1, whose
// JSON lines feed both the process stream and the capture reader. The child is restarted with
// backoff when it dies; processes seen before a restart are not reported twice.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { captureDriverServiceNames } from '../../../shared/signatures/index.js';
import type { CaptureReader, CaptureSnapshot, ProcessInfo, ProcessStream } from '../types.js';
import { type BridgeLine, LineSplitter, parseBridgeLine } from './lines.js';

export class WindowsBridgeError extends Error {
  constructor(
    readonly code: 'powershell_unavailable',
    message: string,
  ) {
    super(message);
    this.name = 'WindowsBridgeError';
  }
}

export interface SpawnCommand {
  file: string;
  args: string[];
}

export interface WindowsBridgeOptions {
  /** What to run; tests replay recorded output with a Node script here. Default: powershell.exe + the script. */
  command?: SpawnCommand;
  captureIntervalSeconds?: number;
  pollIntervalSeconds?: number;
  /** Default: every service name in shared/signatures/captureDrivers.json. */
  captureDriverNames?: string[];
  restart?: { initialMs?: number; maxMs?: number; stableMs?: number };
  /** How long start() waits for the baseline (the `ready` line). */
  readyTimeoutMs?: number;
  /** How long the first snapshot() waits for the first capture line. */
  captureWaitMs?: number;
  /** Errors reported by the script, unreadable lines and restarts. */
  onProblem?: (message: string) => void;
}

export interface WindowsBridge {
  processes: ProcessStream;
  capture: CaptureReader;
}

export const powershellScriptPath = (): string =>
  fileURLToPath(new URL('./vigil-agent.ps1', import.meta.url));

export function defaultPowerShellCommand(options: WindowsBridgeOptions = {}): SpawnCommand {
  const systemRoot = process.env.SystemRoot ?? 'C:\\Windows';
  return {
    file: join(systemRoot, 'System32', 'WindowsPowerShell', 'v1.0', 'powershell.exe'),
    args: [
      '-NoLogo',
      '-NoProfile',
      '-NonInteractive',
      '-ExecutionPolicy',
      'Bypass',
      '-File',
      powershellScriptPath(),
      '-CaptureIntervalSeconds',
      String(options.captureIntervalSeconds ?? 30),
      '-PollIntervalSeconds',
      String(options.pollIntervalSeconds ?? 5),
      '-CaptureDriverNames',
      (options.captureDriverNames ?? captureDriverServiceNames()).join(','),
    ],
  };
}

// Keys of processes already delivered, so a restarted script's baseline does not repeat them.
const maxRememberedProcesses = 100_000;
const processKey = (info: ProcessInfo): string => `${info.pid}@${info.startTime.getTime()}`;

class PowerShellBridge {
  private child: ChildProcess | undefined;
  private users = 0;
  private generation = 0;
  private restartDelayMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  /** Until the first baseline completed, `existing` lines form the baseline. */
  private baselineDone = false;
  private readonly delivered = new Map<string, true>();
  private onProcess: ((info: ProcessInfo, existing: boolean) => void) | undefined;
  private latestCapture: CaptureSnapshot | undefined;
  private readyWaiters: Array<() => void> = [];
  private captureWaiters: Array<() => void> = [];
  private lastError: string | undefined;
  private readonly command: SpawnCommand;
  private readonly restart: { initialMs: number; maxMs: number; stableMs: number };

  constructor(private readonly options: WindowsBridgeOptions) {
    this.command = options.command ?? defaultPowerShellCommand(options);
    this.restart = {
      initialMs: options.restart?.initialMs ?? 1000,
      maxMs: options.restart?.maxMs ?? 60_000,
      stableMs: options.restart?.stableMs ?? 60_000,
    };
    this.restartDelayMs = this.restart.initialMs;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the child for one more user; resolves once it spawned. */
  async acquire(): Promise<void> {
    this.users++;
    if (this.users === 1) await this.spawnChild();
  }

  async release(): Promise<void> {
    if (this.users === 0) return;
    this.users--;
    if (this.users > 0) return;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    // Nobody waits for a baseline or capture state from a bridge that is shutting down.
    for (const wake of [...this.readyWaiters.splice(0), ...this.captureWaiters.splice(0)]) wake();
    await this.stopChild();
  }

  setProcessHandler(handler: ((info: ProcessInfo, existing: boolean) => void) | undefined): void {
    this.onProcess = handler;
  }

  waitReady(timeoutMs: number): Promise<boolean> {
    return this.waitFor(this.readyWaiters, timeoutMs);
  }

  async capture(timeoutMs: number): Promise<CaptureSnapshot> {
    if (!this.latestCapture) await this.waitFor(this.captureWaiters, timeoutMs);
    const problems: string[] = [];
    if (!this.running) problems.push('PowerShell bridge is not running; restarting');
    if (this.lastError) problems.push(this.lastError);
    const latest = this.latestCapture;
    if (!latest)
      return {
        promiscuous: new Set(),
        sockets: [],
        drivers: [],
        problems: [...problems, 'no capture state yet'],
      };
    return {
      promiscuous: new Set(latest.promiscuous),
      sockets: [],
      drivers: latest.drivers.map((d) => ({ ...d })),
      problems: [...latest.problems, ...problems],
    };
  }

  private waitFor(waiters: Array<() => void>, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(done), 1);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      waiters.push(done);
    });
  }

  private problem(message: string): void {
    this.options.onProblem?.(message);
  }

  private spawnChild(): Promise<void> {
    const generation = ++this.generation;
    const child = spawn(this.command.file, this.command.args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.child = child;
    this.startedAt = Date.now();
    const splitter = new LineSplitter();
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      for (const line of splitter.push(chunk)) this.handleLine(line);
    });
    child.stdout!.on('end', () => {
      for (const line of splitter.flush()) this.handleLine(line);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      const text = chunk.trim();
      if (text) this.problem(`PowerShell stderr: ${text.slice(0, 500)}`);
    });
    // A vanished child must not crash the agent with EPIPE on its stdin.
    child.stdin!.on('error', () => {});
    child.on('close', (code, signal) => this.onExit(child, code, signal));
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (error: NodeJS.ErrnoException) => {
        if (this.child === child) this.child = undefined;
        if (error.code === 'ENOENT' && generation === 1) {
          this.users = 0;
          reject(
            new WindowsBridgeError(
              'powershell_unavailable',
              `cannot start ${this.command.file}: ${error.message}`,
            ),
          );
        } else {
          this.problem(`PowerShell bridge: ${error.message}`);
          resolve();
          this.scheduleRestart();
        }
      });
    });
  }

  private handleLine(line: string): void {
    let parsed: BridgeLine;
    try {
      parsed = parseBridgeLine(line);
    } catch (error) {
      this.problem((error as Error).message);
      return;
    }
    switch (parsed.kind) {
      case 'process':
        this.deliver(parsed.info, parsed.existing && !this.baselineDone);
        break;
      case 'capture':
        this.latestCapture = parsed.snapshot;
        this.lastError = undefined;
        for (const wake of this.captureWaiters.splice(0)) wake();
        break;
      case 'ready':
        this.baselineDone = true;
        for (const wake of this.readyWaiters.splice(0)) wake();
        break;
      case 'error':
        this.lastError = `PowerShell: ${parsed.message}`;
        this.problem(this.lastError);
        break;
    }
  }

  /** After a restart, processes the bridge has not delivered yet started while it was blind: new. */
  private deliver(info: ProcessInfo, existing: boolean): void {
    const key = processKey(info);
    if (this.delivered.has(key)) return;
    this.delivered.set(key, true);
    if (this.delivered.size > maxRememberedProcesses) {
      const oldest = this.delivered.keys().next().value;
      if (oldest !== undefined) this.delivered.delete(oldest);
    }
    this.onProcess?.(info, existing);
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    this.child = undefined;
    if (this.users === 0) return;
    this.problem(`PowerShell bridge exited (code ${code ?? 'none'}, signal ${signal ?? 'none'}); restarting`);
    if (Date.now() - this.startedAt >= this.restart.stableMs) this.restartDelayMs = this.restart.initialMs;
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.restartTimer || this.users === 0) return;
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, this.restart.maxMs);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.users > 0 && !this.child) {
        this.spawnChild().catch((error: Error) => this.problem(error.message));
      }
    }, delay);
    this.restartTimer.unref();
  }

  /** Asks the script to stop, then kills it if it has not exited within the grace period. */
  private async stopChild(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('close', () => resolve());
    });
    child.stdin!.end(`${JSON.stringify({ cmd: 'stop' })}\n`);
    const timer = setTimeout(() => child.kill(), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** The Windows process stream and capture reader, sharing one PowerShell child. */
export function createWindowsBridge(options: WindowsBridgeOptions = {}): WindowsBridge {
  const bridge = new PowerShellBridge(options);
  let streaming = false;
  let capturing = false;
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  const captureWaitMs = options.captureWaitMs ?? 180_000;

  const processes: ProcessStream = {
    kind: 'stream',
    async start(onProcess) {
      if (streaming) return;
      bridge.setProcessHandler(onProcess);
      streaming = true;
      try {
        await bridge.acquire();
      } catch (error) {
        streaming = false;
        bridge.setProcessHandler(undefined);
        throw error;
      }
      if (!(await bridge.waitReady(readyTimeoutMs))) {
        options.onProblem?.(`PowerShell bridge: no baseline within ${readyTimeoutMs} ms`);
      }
    },
    async stop() {
      if (!streaming) return;
      streaming = false;
      bridge.setProcessHandler(undefined);
      await bridge.release();
    },
  };

  const capture: CaptureReader = {
    async snapshot() {
      if (!capturing) {
        capturing = true;
        try {
          await bridge.acquire();
        } catch (error) {
          capturing = false;
          throw error;
        }
      }
      return bridge.capture(captureWaitMs);
    },
    async close() {
      if (!capturing) return;
      capturing = false;
      await bridge.release();
    },
  };

  return { processes, capture };
}
