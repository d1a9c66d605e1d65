// Delivery benchmark for the agent's spool. Run after a build:
//   node dist/bench/delivery.js [--dir <dir on the disk the agent state dir lives on>]
// Prints append throughput per batch size for synchronous FULL and NORMAL, the cost of each
// committed transaction next to a raw write+fsync of the same bytes in the same directory,
// and the take+ack replay rate draining a 200k-event backlog. Temp files are removed at the end.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Spool } from '../agent/spool.js';
import type { EventOf } from '../shared/events.js';
import { limits } from '../shared/protocol.js';

const agentId = '6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b';
const BATCH_SIZES = [1, 10, 100, 500];
const MODES = ['full', 'normal'] as const;
/** Each measurement runs until this much time or this many events, whichever first... */
const RUN_MS = 500;
const RUN_MAX_EVENTS = 50_000;
/** ...and is repeated, interleaved with the others, reporting the median against machine noise. */
const ROUNDS = 3;
const BACKLOG = 200_000;

function processStart(pid: number): EventOf<'process.start'> {
  const time = new Date().toISOString();
  return {
    id: randomUUID(),
    agentId,
    time,
    type: 'process.start',
    data: {
      pid,
      ppid: 4242,
      parentName: 'explorer.exe',
      parentExe: 'C:\\Windows\\explorer.exe',
      name: 'chrome.exe',
      exe: 'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
      cmdline: '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --lang=en-US',
      user: 'CONTOSO\\agent.smith',
      startTime: time,
      sha256: 'a3f5c9e1b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c6e8b0d2f4a6',
      signer: 'Google LLC',
    },
  };
}

const batchOf = (from: number, size: number) =>
  Array.from({ length: size }, (_, i) => processStart(from + i));

function parseDir(): string {
  const at = process.argv.indexOf('--dir');
  const base = at >= 0 ? process.argv[at + 1] : undefined;
  if (at >= 0 && !base) throw new Error('--dir needs a directory');
  return fs.mkdtempSync(path.join(base ?? os.tmpdir(), 'vigil-bench-delivery-'));
}

type AppendResult = { eventsPerSec: number; msPerCommit: number };

function benchAppend(dir: string, synchronous: 'full' | 'normal', batchSize: number): AppendResult {
  const spoolDir = fs.mkdtempSync(path.join(dir, `append-${synchronous}-${batchSize}-`));
  const spool = Spool.open({ dir: spoolDir, agentId, synchronous });
  // Events are built ahead so only the spool is timed.
  const batches = Array.from({ length: Math.min(512, Math.ceil(RUN_MAX_EVENTS / batchSize)) }, (_, i) =>
    batchOf(i * batchSize, batchSize),
  );
  let commits = 0;
  const start = performance.now();
  while (performance.now() - start < RUN_MS && commits * batchSize < RUN_MAX_EVENTS) {
    spool.append(batches[commits % batches.length]!);
    commits++;
  }
  const elapsed = performance.now() - start;
  spool.close();
  fs.rmSync(spoolDir, { recursive: true, force: true });
  return { eventsPerSec: (commits * batchSize * 1000) / elapsed, msPerCommit: elapsed / commits };
}

/**
 * The floor under any durable append: the same bytes written to a file in the same dir, then
 * synced. `fsync` appends (the file grows, so the sync also commits metadata, as asked for the
 * baseline); `fdatasync` rewrites in place, which is closer to what SQLite does with its WAL.
 */
function benchRawSync(dir: string, batchSize: number, sync: 'fsync' | 'fdatasync'): number {
  const bytes = Buffer.from(JSON.stringify(batchOf(0, batchSize)));
  const file = path.join(dir, `raw-${sync}-${batchSize}.bin`);
  const fd = fs.openSync(file, 'w');
  let writes = 0;
  const start = performance.now();
  try {
    while (performance.now() - start < RUN_MS && writes < 20_000) {
      if (sync === 'fsync') {
        fs.writeSync(fd, bytes);
        fs.fsyncSync(fd);
      } else {
        fs.writeSync(fd, bytes, 0, bytes.length, 0);
        fs.fdatasyncSync(fd);
      }
      writes++;
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return (performance.now() - start) / writes;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

type ReplayResult = {
  fillMs: number;
  reopenMs: number;
  eventsPerSec: number;
  batches: number;
  fileMiB: number;
};

function benchReplay(dir: string, synchronous: 'full' | 'normal'): ReplayResult {
  const spoolDir = fs.mkdtempSync(path.join(dir, `replay-${synchronous}-`));
  const fillStart = performance.now();
  const filler = Spool.open({ dir: spoolDir, agentId, synchronous });
  for (let from = 0; from < BACKLOG; from += 500) filler.append(batchOf(from, 500));
  filler.close();
  const fillMs = performance.now() - fillStart;
  const fileMiB = fs.statSync(path.join(spoolDir, 'spool.db')).size / 2 ** 20;

  // Reopening pays the integrity check and the one-off totals scan.
  const reopenStart = performance.now();
  const spool = Spool.open({ dir: spoolDir, agentId, synchronous });
  const reopenMs = performance.now() - reopenStart;

  const maxBytes = limits.maxFrameBytes - 1024;
  let drained = 0;
  let batches = 0;
  const start = performance.now();
  for (let batch = spool.takeBatch(limits.maxEventsPerBatch, maxBytes); batch; ) {
    spool.ack(batch.batchId);
    drained += batch.events.length;
    batches++;
    batch = spool.takeBatch(limits.maxEventsPerBatch, maxBytes);
  }
  const elapsed = performance.now() - start;
  if (drained !== BACKLOG) throw new Error(`replay drained ${drained} events, expected ${BACKLOG}`);
  spool.close();
  fs.rmSync(spoolDir, { recursive: true, force: true });
  return { fillMs, reopenMs, eventsPerSec: (drained * 1000) / elapsed, batches, fileMiB };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padStart(widths[i] ?? 0)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function main(): void {
  const dir = parseDir();
  try {
    const eventBytes = Buffer.byteLength(JSON.stringify(processStart(12345)));
    console.log(`spool delivery bench — node ${process.version}, ${os.cpus().length} CPUs, dir ${dir}`);
    console.log(`events: process.start, ${eventBytes} bytes of JSON each\n`);

    const rows: string[][] = [];
    for (const batchSize of BATCH_SIZES) {
      const appends: Record<(typeof MODES)[number], AppendResult[]> = { full: [], normal: [] };
      const raw: Record<'fsync' | 'fdatasync', number[]> = { fsync: [], fdatasync: [] };
      for (let round = 0; round < ROUNDS; round++) {
        raw.fsync.push(benchRawSync(dir, batchSize, 'fsync'));
        raw.fdatasync.push(benchRawSync(dir, batchSize, 'fdatasync'));
        for (const mode of MODES) appends[mode].push(benchAppend(dir, mode, batchSize));
      }
      for (const mode of MODES) {
        rows.push([
          String(batchSize),
          mode.toUpperCase(),
          fmt(median(appends[mode].map((r) => r.eventsPerSec))),
          fmt(median(appends[mode].map((r) => r.msPerCommit)), 3),
          fmt(median(raw.fsync), 3),
          fmt(median(raw.fdatasync), 3),
        ]);
      }
    }
    console.log(
      `append: one transaction per call; median of ${ROUNDS} rounds; baselines sync the same bytes`,
    );
    console.log(
      table(
        ['batch', 'synchronous', 'events/s', 'ms/commit', 'baseline append+fsync ms', 'rewrite+fdatasync ms'],
        rows,
      ),
    );

    const replayRows = MODES.map((mode) => {
      const result = benchReplay(dir, mode);
      return [
        mode.toUpperCase(),
        fmt(BACKLOG),
        fmt(result.fileMiB, 1),
        fmt(result.fillMs),
        fmt(result.reopenMs),
        fmt(result.batches),
        fmt(result.eventsPerSec),
      ];
    });
    console.log(`\nreplay: takeBatch(${limits.maxEventsPerBatch}, ~1 MiB) + ack until empty`);
    console.log(
      table(
        ['synchronous', 'backlog', 'file MiB', 'fill ms', 'reopen ms', 'batches', 'events/s'],
        replayRows,
      ),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
