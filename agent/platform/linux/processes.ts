import type { ProcessInfo, ProcessLister } from '../types.js';
import { listPids, PROC, ProcReader } from './procfs.js';

export function createLinuxProcessLister(proc = PROC): ProcessLister {
  const reader = new ProcReader(proc);
  return {
    kind: 'poll',
    listPids: () => listPids(proc),
    async details(pids) {
      const found = new Map<number, ProcessInfo>();
      const infos = await Promise.all(pids.map((pid) => reader.details(pid)));
      for (const info of infos) if (info) found.set(info.pid, info);
      return found;
    },
  };
}
