import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SPOOL_FILE, Spool } from '../../agent/spool.js';
import type { VigilEvent } from '../../shared/events.js';
import { agentId, pidsOf, processStart, tempDir } from './spool-helpers.js';

let dir: string;
let cleanup: () => void;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => processStart(from + i));
const asideFiles = () =>
  fs.readdirSync(dir).filter((name) => name.startsWith(`${SPOOL_FILE}.corrupt-`) && !name.endsWith('-wal'));

function drain(spool: Spool): VigilEvent[] {
  const events: VigilEvent[] = [];
  for (let batch = spool.takeBatch(500, 10_000_000); batch; batch = spool.takeBatch(500, 10_000_000)) {
    events.push(...batch.events);
    spool.ack(batch.batchId);
  }
  return events;
}

/** Overwrites everything after the 100-byte file header with a repeating non-zero pattern. */
function damagePages(file: string): void {
  const size = fs.statSync(file).size;
  const garbage = Buffer.alloc(size - 4096, 0xa5);
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, garbage, 0, garbage.length, 4096);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

describe('Spool on a corrupt file', () => {
  it('moves a file that is not a database aside and starts fresh with an agent.error', () => {
    const garbage = Buffer.from('this is not an SQLite database, just bytes\n'.repeat(200));
    fs.writeFileSync(path.join(dir, SPOOL_FILE), garbage);

    const spool = Spool.open({ dir, agentId, now: () => Date.UTC(2026, 10, 28, 9, 30) });
    try {
      const aside = asideFiles();
      expect(aside).toEqual(['spool.db.corrupt-2026-11-28T09-30-00-000Z']);
      expect(fs.readFileSync(path.join(dir, aside[0]!))).toEqual(garbage);

      spool.append(range(0, 2));
      const events = drain(spool);
      expect(events[0]).toMatchObject({ type: 'agent.error', agentId, data: { code: 'spool_corrupt' } });
      expect(events[0]?.type === 'agent.error' && events[0].data.message).toContain(aside[0]);
      // Nothing could be counted in a non-database: no spool_dropped report.
      expect(events.map((e) => e.type)).toEqual(['agent.error', 'process.start', 'process.start']);
    } finally {
      spool.close();
    }
  });

  it('moves a file with damaged pages aside at open', () => {
    const first = Spool.open({ dir, agentId });
    first.append(range(0, 3000));
    first.close();
    damagePages(path.join(dir, SPOOL_FILE));

    const spool = Spool.open({ dir, agentId });
    try {
      expect(asideFiles()).toHaveLength(1);
      expect(spool.depth().events).toBeGreaterThanOrEqual(1);
      const events = drain(spool);
      expect(events.some((e) => e.type === 'agent.error' && e.data.code === 'spool_corrupt')).toBe(true);
      expect(events.every((e) => e.type !== 'process.start')).toBe(true);
    } finally {
      spool.close();
    }
  });

  it('recovers from SQLITE_CORRUPT at runtime without throwing and keeps the new append', () => {
    const first = Spool.open({ dir, agentId });
    first.append(range(0, 8_000));
    first.close();

    const spool = Spool.open({ dir, agentId });
    try {
      expect(spool.depth().events).toBe(8_000);
      damagePages(path.join(dir, SPOOL_FILE));
      // A write from another connection (to the intact header page only) makes the spool's
      // connection drop its page cache, so its next statement reads the damaged pages.
      const other = new Database(path.join(dir, SPOOL_FILE));
      other.pragma('user_version = 2');
      other.close();
      const aside = () => asideFiles().length;
      expect(aside()).toBe(0);
      spool.append(range(90_000, 90_001));
      expect(aside()).toBe(1);
      const events = drain(spool);
      // The loss is reported, and the append that hit the damage was retried on the fresh file.
      expect(events.map((e) => e.type)).toEqual(['agent.error', 'agent.spool_dropped', 'process.start']);
      expect(events[0]?.data).toMatchObject({ code: 'spool_corrupt' });
      expect(events[1]?.data).toEqual({ dropped: 8_000, reason: 'corrupt' });
      expect(pidsOf(events)).toEqual([90_000]);
    } finally {
      spool.close();
    }
  }, 90_000);
});
