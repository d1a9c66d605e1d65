// kill -9 durability: a real child process appends to the spool and is SIGKILLed; a fresh
// Spool must then hold everything whose append had returned. The child runs the spool compiled
// by tsc (node 20 cannot run TypeScript), into a temp dir that links the project's node_modules.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Spool } from '../../agent/spool.js';
import type { VigilEvent } from '../../shared/events.js';
import { agentId, pidsOf, tempDir } from './spool-helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
let build: { dir: string; cleanup: () => void };
let child: string;

// The child's events: the same shape as processStart(), pid = running number.
const childSource = (spoolModule: string) => `
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Spool } from ${JSON.stringify(spoolModule)};

const [dir, synchronous, scenario] = process.argv.slice(2);
const agentId = ${JSON.stringify(agentId)};
const event = (pid) => ({
  id: randomUUID(), agentId, time: new Date().toISOString(), type: 'process.start',
  data: { pid, ppid: 1, name: 'chrome.exe', exe: 'C:\\\\Program Files\\\\Google\\\\Chrome\\\\chrome.exe',
    cmdline: 'chrome.exe --type=renderer --lang=en-US --field-trial-handle=1234,i,5678 --renderer-client-id=42',
    user: 'CONTOSO\\\\agent.smith', startTime: new Date().toISOString(),
    sha256: 'a3f5c9e1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6', signer: 'Google LLC' },
});
const batch = (from, count) => Array.from({ length: count }, (_, i) => event(from + i));
const spool = Spool.open({ dir, agentId, synchronous });

if (scenario === 'self-kill') {
  spool.append(batch(0, 100));
  const taken = spool.takeBatch(30, 1_000_000);
  spool.append(batch(100, 1), { live: true });
  fs.writeSync(1, JSON.stringify({ inFlight: taken.batchId }) + '\\n');
  process.kill(process.pid, 'SIGKILL');
} else {
  // Appends until killed, reporting the last pid of each batch once its append has returned.
  for (let from = 0; ; from += 50) {
    spool.append(batch(from, 50));
    fs.writeSync(1, (from + 49) + '\\n');
  }
}
`;

beforeAll(() => {
  build = tempDir();
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(build.dir, 'node_modules'), 'dir');
  fs.writeFileSync(path.join(build.dir, 'package.json'), '{ "type": "module" }\n');
  const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
  const flags = ['--ignoreConfig', '--outDir', build.dir, '--rootDir', root, '--module', 'nodenext'];
  flags.push('--moduleResolution', 'nodenext', '--target', 'es2023', '--skipLibCheck', '--types', 'node');
  execFileSync(tsc, [...flags, path.join(root, 'agent', 'spool.ts')], { cwd: root, stdio: 'pipe' });
  child = path.join(build.dir, 'spool-child.mjs');
  fs.writeFileSync(child, childSource('./agent/spool.js'));
  // tsc takes seconds, more on a busy machine.
}, 180_000);
afterAll(() => build?.cleanup());

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

/** Runs the child; `killAfterLines` makes the parent SIGKILL it once that many lines arrived. */
function runChild(
  args: string[],
  killAfterLines?: number,
): Promise<{ lines: string[]; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (killAfterLines !== undefined && stdout.split('\n').length - 1 >= killAfterLines)
        proc.kill('SIGKILL');
    });
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code}: ${stderr}`));
      else resolve({ lines: stdout.split('\n').filter(Boolean), signal });
    });
  });
}

function drain(spool: Spool): VigilEvent[] {
  const events: VigilEvent[] = [];
  for (let batch = spool.takeBatch(500, 10_000_000); batch; batch = spool.takeBatch(500, 10_000_000)) {
    events.push(...batch.events);
    spool.ack(batch.batchId);
  }
  return events;
}

describe('Spool under kill -9', () => {
  it('keeps every appended event, the taken-but-unacked batch included, and a rising seq', async () => {
    const { lines } = await runChild(['full', 'self-kill']);
    const { inFlight } = JSON.parse(lines[0]!) as { inFlight: number };

    const spool = Spool.open({ dir, agentId });
    try {
      expect(spool.depth()).toMatchObject({ events: 101, live: 1, inFlight: 0 });
      const first = spool.takeBatch(500, 10_000_000)!;
      expect(first.batchId).toBeGreaterThan(inFlight);
      expect(pidsOf(first.events)).toEqual([100, ...Array.from({ length: 100 }, (_, i) => i)]);
    } finally {
      spool.close();
    }
  });

  it.each(['full', 'normal'])(
    'loses no returned append when killed mid-stream (synchronous=%s)',
    async (mode) => {
      const { lines } = await runChild([mode, 'loop'], 40);
      const lastReported = Number(lines.at(-1));
      expect(lastReported).toBeGreaterThanOrEqual(40 * 50 - 1);

      const spool = Spool.open({ dir, agentId });
      try {
        const pids = pidsOf(drain(spool));
        // Everything reported is there, in order, with nothing torn: appends are whole batches.
        expect(pids.length).toBeGreaterThan(lastReported);
        expect(pids.length % 50).toBe(0);
        expect(pids).toEqual(Array.from({ length: pids.length }, (_, i) => i));
      } finally {
        spool.close();
      }
    },
  );
});
