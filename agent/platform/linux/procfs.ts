// Reads processes straight from /proc: a readdir for the pid list, and a handful of small files
// for a pid's details. Far cheaper than spawning `ps` (systeminformation spawns one per process).
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { type FileHandle, open, readFile } from 'node:fs/promises';
import type { ProcessInfo } from '../types.js';

export const PROC = '/proc';

// One buffer for every small pseudo-file read. readFileSync cannot know the size of a /proc file
// (stat says 0) and allocates a fresh 64 KiB buffer per read: a dozen reads a second was a
// megabyte of garbage a second, and a garbage collection a second in an otherwise idle agent.
const scratch = Buffer.allocUnsafe(64 * 1024);

/** The text of a small /proc or /sys file (read whole; larger files fall back to readFileSync). */
export function readPseudoFile(path: string, encoding: BufferEncoding = 'utf8'): string {
  const fd = openSync(path, 'r');
  try {
    let length = 0;
    while (length < scratch.length) {
      const read = readSync(fd, scratch, length, scratch.length - length, null);
      if (read === 0) return scratch.toString(encoding, 0, length);
      length += read;
    }
  } finally {
    closeSync(fd);
  }
  return readFileSync(path, encoding);
}

/**
 * /proc/<pid>/cmdline, asynchronously (see details()). In 2 KiB reads, which come from Node's shared
 * buffer pool, rather than readFile's fresh 64 KiB buffer per file: one per process started.
 */
async function readCmdline(path: string): Promise<Buffer | undefined> {
  let file: FileHandle | undefined;
  try {
    file = await open(path, 'r');
    const chunks: Buffer[] = [];
    for (;;) {
      const chunk = Buffer.allocUnsafe(2048);
      const { bytesRead } = await file.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks);
  } catch {
    return undefined;
  } finally {
    await file?.close().catch(() => undefined);
  }
}

const listings = new Map<string, { lastPid: string; pids: number[] }>();

/** The last pid the kernel allocated in our pid namespace: the 5th field of /proc/loadavg. */
function lastPidAllocated(proc: string): string | undefined {
  try {
    const text = readPseudoFile(`${proc}/loadavg`, 'latin1');
    return text.slice(text.lastIndexOf(' ') + 1).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pids in `proc`. The directory is walked again only when a pid was allocated since the last
 * walk: /proc/loadavg names the last one, a 40-byte read against a walk over every task (the
 * process and capture sensors both ask every second, and most seconds nothing started). A new
 * pid needs a fork or a new thread, both of which move that number; an unchanged number means
 * the same list, give or take processes that ended, which leave the list at the next change.
 * Synchronous on purpose: for /proc and /sys pseudo-files a sync call costs a fraction of the CPU
 * of the promise API (no thread-pool round trips) and returns in microseconds.
 */
export async function listPids(proc = PROC): Promise<number[]> {
  const lastPid = lastPidAllocated(proc);
  const cached = listings.get(proc);
  if (lastPid !== undefined && cached?.lastPid === lastPid) return cached.pids;
  const names = readdirSync(proc);
  const pids: number[] = [];
  for (const name of names) {
    const code = name.charCodeAt(0);
    if (code >= 48 && code <= 57) pids.push(Number(name));
  }
  if (lastPid !== undefined) listings.set(proc, { lastPid, pids });
  return pids;
}

/** Clock ticks per second for /proc/<pid>/stat start times (USER_HZ; 100 on every mainstream build). */
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function bootTimeMs(proc: string): number {
  const stat = readFileSync(`${proc}/stat`, 'utf8');
  const match = /^btime (\d+)$/m.exec(stat);
  return match ? Number(match[1]) * 1000 : 0;
}

/** Parses /proc/<pid>/stat; the name is in parentheses and may itself contain spaces and ')'. */
export function parseStat(text: string): { name: string; ppid: number; startTicks: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // fields[0] is state (field 3); ppid is field 4, starttime field 22.
  return { name: text.slice(open + 1, close), ppid: Number(fields[1]), startTicks: Number(fields[19]) };
}

export function parseRealUid(status: string): number | undefined {
  const match = /^Uid:\s+(\d+)/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

/** uid → user name from /etc/passwd, reloaded when an unknown uid shows up (a user was added). */
export class UserNames {
  private names = new Map<number, string>();
  private loadedAt = 0;
  constructor(private readonly passwdPath = '/etc/passwd') {}

  name(uid: number | undefined): string {
    if (uid === undefined) return '';
    let name = this.names.get(uid);
    if (name === undefined && Date.now() - this.loadedAt > 10_000) {
      this.load();
      name = this.names.get(uid);
    }
    return name ?? String(uid);
  }

  private load(): void {
    this.loadedAt = Date.now();
    try {
      for (const line of readFileSync(this.passwdPath, 'utf8').split('\n')) {
        const [user, , uid] = line.split(':');
        if (user && uid) this.names.set(Number(uid), user);
      }
    } catch {
      // No passwd file (minimal containers): numeric uids are shown instead.
    }
  }
}

const readText = (path: string) => readFile(path, 'utf8').catch(() => undefined);

/** A pseudo-file's text, or undefined when it cannot be read (the process ended, no permission). */
export function readTextNow(path: string): string | undefined {
  try {
    return readPseudoFile(path);
  } catch {
    return undefined;
  }
}

export function readLinkNow(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** /proc/<pid>/loginuid of a process outside any login session (daemons, boot-time services). */
const NO_LOGIN_UID = 4294967295;

/** The login uid in /proc/<pid>/loginuid text, or undefined when unset or unreadable. */
export function parseLoginUid(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const uid = Number(text.trim());
  return Number.isInteger(uid) && uid >= 0 && uid !== NO_LOGIN_UID ? uid : undefined;
}

export class ProcReader {
  private readonly bootMs: number;
  readonly users = new UserNames();

  constructor(private readonly proc = PROC) {
    this.bootMs = bootTimeMs(proc);
  }

  /** Details of one pid, or undefined when it exited meanwhile. Kernel threads have no exe/cmdline. */
  async details(pid: number): Promise<ProcessInfo | undefined> {
    const base = `${this.proc}/${pid}`;
    // stat, status and the links answer without waiting on the process: read them synchronously
    // (no thread-pool round trips). cmdline is read from the process's memory and can block while
    // it is stuck in a page fault (the classic `ps` hang): that read stays off the event loop.
    const statText = readTextNow(`${base}/stat`);
    const stat = statText ? parseStat(statText) : undefined;
    if (!stat) return undefined;
    const statusText = readTextNow(`${base}/status`);
    const exe = readLinkNow(`${base}/exe`);
    const cwd = readLinkNow(`${base}/cwd`);
    const cmdlineRaw = await readCmdline(`${base}/cmdline`);
    const uid = statusText ? parseRealUid(statusText) : undefined;
    // Survives setuid and privilege drops: tcpdump runs as user tcpdump, but its loginuid is the
    // person who started it (needs audit support in the kernel; absent otherwise).
    const loginUid = parseLoginUid(readTextNow(`${base}/loginuid`));
    const cmdline = cmdlineRaw ? cmdlineRaw.toString('utf8').replace(/\0+$/, '').split('\0').join(' ') : '';
    return {
      pid,
      ppid: stat.ppid,
      name: stat.name,
      // A replaced or deleted binary reads as "/path (deleted)"; keep the path, the suffix tells the story.
      exe: exe ?? '',
      cmdline,
      uid,
      user: this.users.name(uid),
      ...(loginUid !== undefined && { loginUser: this.users.name(loginUid) }),
      cwd,
      startTime: new Date(this.bootMs + (stat.startTicks / clockTicks) * 1000),
    };
  }

  async name(pid: number): Promise<string | undefined> {
    const comm = await readText(`${this.proc}/${pid}/comm`);
    return comm?.trimEnd();
  }
}
