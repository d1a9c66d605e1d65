// Shared by the spool tests: realistic events and a throwaway state directory.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EventOf, VigilEvent } from '../../shared/events.js';

export const agentId = '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b';

/** A process.start event of about 600 bytes of JSON, numbered through its pid. */
export function processStart(n: number, time = new Date(Date.UTC(2026, 10, 28, 9, 0, 0) + n)): VigilEvent {
  const event: EventOf<'process.start'> = {
    id: randomUUID(),
    agentId,
    time: time.toISOString(),
    type: 'process.start',
    data: {
      pid: n,
      ppid: 1,
      parentName: 'explorer.exe',
      parentExe: 'C:\\Windows\\explorer.exe',
      name: 'chrome.exe',
      exe: 'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
      cmdline:
        '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --lang=en-US --field-trial-handle=1234,i,5678 --renderer-client-id=42 --launch-time-ticks=123456789',
      user: 'CONTOSO\\agent.smith',
      cwd: 'C:\\Program Files\\Google\\Chrome\\Application',
      startTime: time.toISOString(),
      sha256: 'a3f5c9e1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6',
      signer: 'Google LLC',
    },
  };
  return event;
}

export const pidsOf = (events: readonly VigilEvent[]): number[] =>
  events.filter((e) => e.type === 'process.start').map((e) => (e.type === 'process.start' ? e.data.pid : -1));

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-spool-'));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
