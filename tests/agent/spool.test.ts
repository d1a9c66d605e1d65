import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DROP_TO_RATIO,
  Spool,
  SpoolArgumentError,
  SpoolClosedError,
  SpoolEventTooLargeError,
  SpoolInvalidEventError,
  SpoolOptionsError,
} from '../../agent/spool.js';
import type { VigilEvent } from '../../shared/events.js';
import { agentId, pidsOf, processStart, tempDir } from './spool-helpers.js';

let dir: string;
let cleanup: () => void;
const open: Spool[] = [];

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => {
  for (const spool of open.splice(0)) spool.close();
  cleanup();
});

function openSpool(options: Partial<Parameters<typeof Spool.open>[0]> = {}): Spool {
  const spool = Spool.open({ dir, agentId, ...options });
  open.push(spool);
  return spool;
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => processStart(from + i));

describe('Spool', () => {
  it('returns appended events unchanged and deletes them on ack', () => {
    const spool = openSpool();
    const events = range(0, 5);
    spool.append(events);
    expect(spool.depth()).toMatchObject({ events: 5, live: 0, inFlight: 0 });
    expect(spool.depth().bytes).toBe(
      events.reduce((sum, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0),
    );

    const batch = spool.takeBatch(100, 1_000_000);
    expect(batch?.events).toEqual(events);
    expect(spool.depth().inFlight).toBe(5);
    expect(spool.takeBatch(100, 1_000_000)).toBeNull();

    expect(spool.ack(batch!.batchId)).toBe(5);
    expect(spool.depth()).toEqual({ events: 0, bytes: 0, live: 0, inFlight: 0 });
  });

  it('sends live events ahead of the backlog, each oldest first', () => {
    const spool = openSpool();
    spool.append(range(0, 3));
    spool.append(range(100, 102), { live: true });
    spool.append(range(3, 5));
    spool.append(range(102, 103), { live: true });
    expect(spool.depth().live).toBe(3);
    expect(pidsOf(spool.takeBatch(4, 1_000_000)!.events)).toEqual([100, 101, 102, 0]);
    expect(pidsOf(spool.takeBatch(10, 1_000_000)!.events)).toEqual([1, 2, 3, 4]);
  });

  it('takes only live events when asked to leave the backlog alone', () => {
    const spool = openSpool();
    spool.append(range(0, 3));
    expect(spool.takeBatch(10, 1_000_000, { liveOnly: true })).toBeNull();
    spool.append(range(100, 102), { live: true });
    expect(pidsOf(spool.takeBatch(10, 1_000_000, { liveOnly: true })!.events)).toEqual([100, 101]);
    expect(spool.takeBatch(10, 1_000_000, { liveOnly: true })).toBeNull();
    expect(pidsOf(spool.takeBatch(10, 1_000_000)!.events)).toEqual([0, 1, 2]);
  });

  it('bounds a batch by count and by serialized bytes, but always takes one event', () => {
    const spool = openSpool();
    const events = range(0, 10);
    spool.append(events);
    const size = Buffer.byteLength(JSON.stringify(events[0]));
    // Room for three events and their separators, not four.
    const three = spool.takeBatch(10, 3 * (size + 1) + 10)!;
    expect(pidsOf(three.events)).toEqual([0, 1, 2]);
    expect(three.bytes).toBe(
      three.events.reduce((sum, event) => sum + Buffer.byteLength(JSON.stringify(event)), 0),
    );
    expect(pidsOf(spool.takeBatch(2, 1_000_000)!.events)).toEqual([3, 4]);
    expect(pidsOf(spool.takeBatch(10, 1)!.events)).toEqual([5]);
  });

  it('acks only the named batch', () => {
    const spool = openSpool();
    spool.append(range(0, 6));
    const first = spool.takeBatch(2, 1_000_000)!;
    const second = spool.takeBatch(2, 1_000_000)!;
    const third = spool.takeBatch(2, 1_000_000)!;
    expect(second.batchId).toBeGreaterThan(first.batchId);
    expect(third.batchId).toBeGreaterThan(second.batchId);

    expect(spool.ack(second.batchId)).toBe(2);
    expect(spool.ack(second.batchId)).toBe(0);
    expect(spool.ack(987_654_321)).toBe(0);
    expect(spool.depth()).toMatchObject({ events: 4, inFlight: 4 });

    spool.releaseInFlight();
    expect(pidsOf(spool.takeBatch(10, 1_000_000)!.events)).toEqual([0, 1, 4, 5]);
  });

  it('puts in-flight events back in their original order on release', () => {
    const spool = openSpool();
    spool.append(range(0, 4));
    const a = spool.takeBatch(2, 1_000_000)!;
    spool.append(range(4, 6));
    spool.takeBatch(3, 1_000_000);
    spool.releaseInFlight();
    expect(spool.depth()).toMatchObject({ events: 6, inFlight: 0 });
    const again = spool.takeBatch(10, 1_000_000)!;
    expect(pidsOf(again.events)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(again.batchId).toBeGreaterThan(a.batchId);
    // An ack for a batch from before the release matches nothing any more.
    expect(spool.ack(a.batchId)).toBe(0);
  });

  it('keeps un-acked events and a rising batch id across close and reopen', () => {
    let clock = 1_000;
    const now = () => clock;
    const first = Spool.open({ dir, agentId, now });
    first.append(range(0, 6));
    const acked = first.takeBatch(2, 1_000_000)!;
    first.ack(acked.batchId);
    const inFlight = first.takeBatch(2, 1_000_000)!;
    const depthBefore = first.depth();
    first.close();
    expect(() => first.append(range(9, 10))).toThrow(SpoolClosedError);

    // The clock went backwards: the stored counter still wins.
    clock = 10;
    const second = openSpool({ now });
    // Totals rebuilt from the file match the running ones; the in-flight batch is pending again.
    expect(second.depth()).toEqual({ ...depthBefore, inFlight: 0 });
    expect(second.depth().events).toBe(4);
    const resent = second.takeBatch(10, 1_000_000)!;
    expect(pidsOf(resent.events)).toEqual([2, 3, 4, 5]);
    expect(resent.events.slice(0, 2)).toEqual(inFlight.events);
    expect(resent.batchId).toBeGreaterThan(inFlight.batchId);
    second.close();

    const third = openSpool({ now });
    const last = third.takeBatch(10, 1_000_000)!;
    expect(last.batchId).toBeGreaterThan(resent.batchId);
  });

  it('drops the oldest backlog past the size cap and records one agent.spool_dropped', () => {
    // Two-digit pids: every event has the same size.
    const events = range(10, 50);
    const size = Buffer.byteLength(JSON.stringify(events[0]));
    expect(new Set(events.map((e) => Buffer.byteLength(JSON.stringify(e))))).toEqual(new Set([size]));
    const maxBytes = 20 * size;
    const spool = openSpool({ maxBytes });
    spool.append(events.slice(0, 20));
    expect(spool.depth().events).toBe(20);
    const inFlight = spool.takeBatch(2, 1_000_000)!;
    spool.append(events.slice(20, 25), { live: true });

    // 25 events are over the cap; pending backlog goes first, down to DROP_TO_RATIO of the cap.
    const expectedDropped = Math.ceil((25 * size - Math.floor(maxBytes * DROP_TO_RATIO)) / size);
    expect(expectedDropped).toBeGreaterThan(0);
    expect(spool.depth().bytes).toBeLessThanOrEqual(maxBytes);

    spool.releaseInFlight();
    const all = spool.takeBatch(500, 10_000_000)!.events;
    const drops = all.filter((e) => e.type === 'agent.spool_dropped');
    expect(drops).toHaveLength(1);
    const drop = drops[0]!;
    expect(drop.agentId).toBe(agentId);
    expect(drop.data).toMatchObject({ dropped: expectedDropped, reason: 'size' });
    // Live first (the report is live too), then the in-flight 10 and 11, kept, then the backlog
    // after the dropped oldest events from 12 on.
    const survivors = Array.from({ length: 18 - expectedDropped }, (_, i) => 12 + expectedDropped + i);
    expect(pidsOf(all)).toEqual([30, 31, 32, 33, 34, 10, 11, ...survivors]);
    expect(all.length).toBe(1 + 5 + 2 + survivors.length);
    expect(pidsOf(inFlight.events)).toEqual([10, 11]);
  });

  it('drops live events only once no pending backlog is left', () => {
    const events = range(10, 30);
    const size = Buffer.byteLength(JSON.stringify(events[0]));
    const spool = openSpool({ maxBytes: 10 * size });
    spool.append(events.slice(0, 2));
    spool.append(events.slice(2, 14), { live: true });
    const all = spool.takeBatch(500, 10_000_000)!.events;
    const drop = all.find((e) => e.type === 'agent.spool_dropped');
    // 14 events against a target just under 10: both backlog events, then the oldest live ones.
    const expectedDropped = Math.ceil((14 * size - Math.floor(10 * size * DROP_TO_RATIO)) / size);
    expect(expectedDropped).toBeGreaterThan(2);
    expect(drop?.data).toMatchObject({ dropped: expectedDropped, reason: 'size' });
    const liveLeft = Array.from({ length: 14 - expectedDropped }, (_, i) => 10 + expectedDropped + i);
    expect(pidsOf(all)).toEqual(liveLeft);
  });

  it('never drops its own drop reports: every dropped event stays counted across repeated drops', () => {
    const events = range(10, 99);
    const size = Buffer.byteLength(JSON.stringify(events[0]));
    const spool = openSpool({ maxBytes: 10 * size });
    // Only live events (a sniffer-heavy workstation offline): the cap has nothing else to drop.
    for (const event of events) spool.append([event], { live: true });
    const all = spool.takeBatch(1000, 100_000_000)!.events;
    const reports = all.filter((e) => e.type === 'agent.spool_dropped');
    expect(reports.length).toBeGreaterThan(2);
    const droppedTotal = reports.reduce((sum, e) => sum + (e.data as { dropped: number }).dropped, 0);
    expect(pidsOf(all).length + droppedTotal).toBe(events.length);
  });

  it('drops events older than the age cap, sparing those in flight', () => {
    let clock = Date.UTC(2026, 10, 1);
    const spool = openSpool({ now: () => clock, maxAgeMs: 60 * 60_000 });
    spool.append(range(0, 3));
    const inFlight = spool.takeBatch(1, 1_000_000)!;
    clock += 30 * 60_000;
    spool.append(range(3, 5));
    clock += 45 * 60_000;
    spool.enforceCaps();
    expect(spool.depth()).toMatchObject({ events: 1 + 2 + 1, inFlight: 1 });

    spool.releaseInFlight();
    const all = spool.takeBatch(100, 10_000_000)!.events;
    const drop = all.find((e) => e.type === 'agent.spool_dropped');
    expect(drop?.data).toEqual({
      dropped: 2,
      reason: 'age',
      oldest: new Date(Date.UTC(2026, 10, 1)).toISOString(),
      newest: new Date(Date.UTC(2026, 10, 1)).toISOString(),
    });
    expect(pidsOf(all)).toEqual([0, 3, 4]);
    expect(pidsOf(inFlight.events)).toEqual([0]);

    // Nothing more to drop: no second report.
    spool.enforceCaps();
    expect(spool.depth().events).toBe(4);
  });

  it('applies the age cap from append as well', () => {
    let clock = Date.UTC(2026, 10, 1);
    const spool = openSpool({ now: () => clock, maxAgeMs: 10 * 60_000 });
    spool.append(range(0, 2));
    clock += 11 * 60_000;
    spool.append(range(2, 3));
    const all = spool.takeBatch(100, 10_000_000)!.events;
    expect(all.map((e) => e.type)).toEqual(['agent.spool_dropped', 'process.start']);
    expect(pidsOf(all)).toEqual([2]);
  });

  it('rejects a bad batch whole and stores nothing of it', () => {
    const spool = openSpool({ maxEventBytes: 2_000 });
    const bad = { ...processStart(1), time: 'yesterday' } as VigilEvent;
    expect(() => spool.append([processStart(0), bad])).toThrow(SpoolInvalidEventError);
    const huge = processStart(2);
    if (huge.type === 'process.start') huge.data.cmdline = 'x'.repeat(3_000);
    expect(() => spool.append([processStart(0), huge])).toThrow(SpoolEventTooLargeError);
    expect(spool.depth().events).toBe(0);
    expect(() => spool.takeBatch(0, 100)).toThrow(SpoolArgumentError);
    expect(() => spool.takeBatch(10, 1.5)).toThrow(SpoolArgumentError);
  });

  it('refuses bad options', () => {
    expect(() => Spool.open({ dir, agentId: 'not-a-uuid' })).toThrow(SpoolOptionsError);
    expect(() => Spool.open({ dir, agentId, maxBytes: 0 })).toThrow(SpoolOptionsError);
    expect(() => Spool.open({ dir, agentId, maxAgeMs: -1 })).toThrow(SpoolOptionsError);
    expect(() => Spool.open({ dir, agentId, synchronous: 'off' as 'full' })).toThrow(SpoolOptionsError);
  });
});
