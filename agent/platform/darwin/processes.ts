// macOS process listing through ps: a cheap pid listing each scan, then one ps call for the
// details of new pids and one for their full arguments. Parsers are pure and exported for tests.
import { basename } from 'node:path';
import type { ProcessInfo, ProcessLister } from '../types.js';
import { type RunTool, runTool } from './exec.js';

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** ps `lstart` ("Sat Nov 28 09:08:12 2026", local time) → Date; null when it does not parse. */
export function parseLstart(text: string): Date | null {
  const m = /^\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})$/.exec(text.trim());
  if (!m) return null;
  const month = months.indexOf(m[1]!);
  if (month < 0) return null;
  return new Date(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
}

/** Output of `ps -axo pid=`. */
export function parsePidList(stdout: string): number[] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /^\d+$/.test(line))
    .map(Number);
}

export interface PsDetail {
  pid: number;
  ppid: number;
  uid: number;
  user: string;
  startTime: Date;
  comm: string;
}

const detailLine =
  /^\s*(\d+)\s+(\d+)\s+(-?\d+)\s+(\S+)\s+(\w{3}\s+\w{3}\s+\d{1,2}\s+\d{1,2}:\d{2}:\d{2}\s+\d{4})\s(.*)$/;

/** Output of `ps -o pid=,ppid=,uid=,user=,lstart=,comm= -p …`; comm is last because it may hold spaces. */
export function parsePsDetails(stdout: string): Map<number, PsDetail> {
  const result = new Map<number, PsDetail>();
  for (const line of stdout.split('\n')) {
    const m = detailLine.exec(line);
    if (!m) continue;
    const startTime = parseLstart(m[5]!);
    if (!startTime) continue;
    const pid = Number(m[1]);
    result.set(pid, {
      pid,
      ppid: Number(m[2]),
      uid: Number(m[3]),
      user: m[4]!,
      startTime,
      comm: m[6]!.trim(),
    });
  }
  return result;
}

/** Output of `ps -ww -o pid=,args= -p …`. */
export function parsePsArgs(stdout: string): Map<number, string> {
  const result = new Map<number, string>();
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\d+)(?:\s(.*))?$/.exec(line);
    if (m) result.set(Number(m[1]), (m[2] ?? '').trim());
  }
  return result;
}

/** Joins a details row and its arguments into the platform-neutral shape. */
export function toProcessInfo(detail: PsDetail, args: string | undefined): ProcessInfo {
  const absolute = detail.comm.startsWith('/');
  const name = absolute ? basename(detail.comm) : detail.comm;
  // ps shows "(name)" instead of the arguments of processes it may not read.
  const cmdline = args === undefined || /^\(.*\)$/.test(args) ? '' : args;
  return {
    pid: detail.pid,
    ppid: detail.ppid,
    name,
    exe: absolute ? detail.comm : '',
    cmdline,
    uid: detail.uid,
    user: detail.user,
    startTime: detail.startTime,
  };
}

// One -o per column: an empty header ("pid=") then cannot swallow the following column names.
const detailColumns = ['pid=', 'ppid=', 'uid=', 'user=', 'lstart=', 'comm='].flatMap((c) => ['-o', c]);

// ps takes the pid list as one argument; keep it well below ARG_MAX.
const pidsPerCall = 2000;

export interface DarwinProcessListerOptions {
  run?: RunTool;
  ps?: string;
}

export function createDarwinProcessLister(options: DarwinProcessListerOptions = {}): ProcessLister {
  const run = options.run ?? runTool;
  const ps = options.ps ?? '/bin/ps';
  return {
    kind: 'poll',
    async listPids() {
      return parsePidList(await run(ps, ['-axo', 'pid=']));
    },
    async details(pids) {
      const result = new Map<number, ProcessInfo>();
      const wanted = [...new Set(pids.filter((p) => Number.isInteger(p) && p >= 0))];
      for (let i = 0; i < wanted.length; i += pidsPerCall) {
        const list = wanted.slice(i, i + pidsPerCall).join(',');
        // Exit 1: none of the pids exists any more.
        const [detailOut, argsOut] = await Promise.all([
          run(ps, [...detailColumns, '-p', list], [1]),
          run(ps, ['-ww', '-o', 'pid=', '-o', 'args=', '-p', list], [1]),
        ]);
        const args = parsePsArgs(argsOut);
        for (const [pid, detail] of parsePsDetails(detailOut))
          result.set(pid, toProcessInfo(detail, args.get(pid)));
      }
      return result;
    },
  };
}
