// Reports every new process once as `process.start`. Poll sources list pids cheaply and read
// details only for pids not seen before; stream sources (Windows) push starts as they happen.
// Processes running when the sensor starts form the baseline and are not reported, except known
// sniffers, which are reported at once.
import { platform as hostPlatform } from 'node:os';
import type { EventData } from '../../shared/events.js';
import { matchSniffer } from '../../shared/signatures/index.js';
import { ExecutableHasher } from '../hash.js';
import type { ProcessInfo, ProcessSource } from '../platform/types.js';
import { redactCommandLine } from '../redact.js';
import type { Sensor, SensorContext } from './sensor.js';

interface Known {
  name: string;
  exe: string;
  cmdline: string;
  /** How many more scans read this pid again to catch an exec (0 for the baseline). */
  rechecks: number;
}

/**
 * A pid seen between fork and exec shows its parent's program (a shell, `ip netns exec`, a
 * version-manager shim): new pids are read again on this many following scans and reported once
 * more if their executable changed. A count, not a time, so the cost per new pid is bounded.
 */
const EXEC_RECHECKS = 2;

export function createProcessSensor(
  source: ProcessSource,
  options: { platform?: NodeJS.Platform; hasher?: ExecutableHasher } = {},
): Sensor {
  const platform = options.platform ?? hostPlatform();
  const hasher = options.hasher ?? new ExecutableHasher();
  const known = new Map<number, Known>();
  /** Pids still inside their exec-recheck window. */
  const rechecking = new Set<number>();
  /** The pid list of the previous scan: a source answers with the same array when nothing started. */
  let lastPids: number[] | undefined;
  let ctx: SensorContext;

  async function report(info: ProcessInfo): Promise<void> {
    const parent = known.get(info.ppid);
    known.set(info.pid, { name: info.name, exe: info.exe, cmdline: info.cmdline, rechecks: EXEC_RECHECKS });
    rechecking.add(info.pid);
    // Kernel threads have neither an executable nor a command line: nothing to report.
    if (!info.exe && !info.cmdline) return;
    const sniffer = matchSniffer({ name: info.name, exe: info.exe, cmdline: info.cmdline, platform });
    const minimal = ctx.policy().privacyLevel === 'minimal' && !sniffer;
    const hashPath = platform === 'linux' ? `/proc/${info.pid}/exe` : info.exe;
    const sha256 = info.exe ? await hasher.sha256(hashPath) : undefined;
    const data: EventData<'process.start'> = {
      pid: info.pid,
      ppid: info.ppid,
      name: info.name,
      exe: info.exe,
      cmdline: minimal ? '' : redactCommandLine(info.cmdline),
      user: info.user,
      startTime: info.startTime.toISOString(),
      ...(info.uid !== undefined && { uid: info.uid }),
      ...(info.loginUser && { loginUser: info.loginUser }),
      ...(info.cwd && { cwd: info.cwd }),
      ...(parent && { parentName: parent.name, parentExe: parent.exe }),
      ...(parent && !minimal && { parentCmdline: redactCommandLine(parent.cmdline) }),
      ...(sha256 && { sha256 }),
      ...(info.signer && { signer: info.signer }),
      ...(info.originalFileName && { originalFileName: info.originalFileName }),
    };
    ctx.emit('process.start', data, { live: sniffer !== null });
  }

  async function pollDetails(pids: number[], baseline: boolean): Promise<void> {
    if (source.kind !== 'poll' || pids.length === 0) return;
    const details = await source.details(pids);
    // Parents first, so a child started in the same interval finds its parent's name.
    const ordered = [...details.values()].sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
    for (const info of ordered) {
      const before = known.get(info.pid);
      if (before) {
        // A recheck: only an exec (another executable in the same pid) is news; programs that
        // rewrite their own argv (postgres, nginx) are not. The window is not extended.
        if (before.exe !== info.exe) {
          await report(info);
          const after = known.get(info.pid);
          if (after) after.rechecks = before.rechecks;
        }
        continue;
      }
      if (baseline) {
        known.set(info.pid, { name: info.name, exe: info.exe, cmdline: info.cmdline, rechecks: 0 });
        if (matchSniffer({ name: info.name, exe: info.exe, cmdline: info.cmdline, platform }))
          await report(info);
      } else {
        await report(info);
      }
    }
  }

  return {
    name: 'process',
    policyKey: 'process',
    async start(context) {
      ctx = context;
      if (source.kind === 'stream') {
        await source.start((info, existing) => {
          if (existing)
            known.set(info.pid, { name: info.name, exe: info.exe, cmdline: info.cmdline, rechecks: 0 });
          else
            void report(info).catch((err) => ctx.log.warn({ err, pid: info.pid }, 'process report failed'));
        });
        return;
      }
      await pollDetails(await source.listPids(), true);
    },
    async scan() {
      if (source.kind !== 'poll') return;
      const pids = await source.listPids();
      let fresh: number[] = [];
      // The same list as last time: nothing started (see listPids), so only rechecks are due.
      if (pids !== lastPids) {
        lastPids = pids;
        const alive = new Set(pids);
        for (const pid of known.keys()) if (!alive.has(pid)) known.delete(pid);
        fresh = pids.filter((pid) => !known.has(pid));
      }
      const recheck: number[] = [];
      for (const pid of rechecking) {
        const entry = known.get(pid);
        if (entry && entry.rechecks > 0) {
          entry.rechecks--;
          recheck.push(pid);
        }
        if (!entry || entry.rechecks <= 0) rechecking.delete(pid);
      }
      if (fresh.length > 0 || recheck.length > 0) await pollDetails([...fresh, ...recheck], false);
    },
    async stop() {
      if (source.kind === 'stream') await source.stop();
    },
  };
}
