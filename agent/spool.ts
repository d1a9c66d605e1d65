// The agent's durable spool: every event is committed to SQLite (WAL) before it is sent and
// leaves only when the collector acks the batch that carried it. Delivery is at-least-once:
// batches taken but not acked before a crash or restart are sent again (the collector dedups
// by event id). Batch ids are the link's message `seq`; they only grow, across restarts too.
//
// Durability: `synchronous` defaults to FULL, so an append that returned survives power loss,
// not only a crash of the agent process. NORMAL (WAL) survives a process crash too but may
// lose the last transactions on power loss; `node dist/bench/delivery.js` measures the cost.
//
// Caps: when the stored events exceed `maxBytes` (the sum of their JSON sizes; the file runs
// about 15% higher with SQLite's pages and indexes) the oldest pending backlog is dropped, then
// the oldest pending live events, down to DROP_TO_RATIO of the cap so that a full spool does
// not report a loss on every append. Events older than `maxAgeMs` are dropped too (append
// checks age at most once a minute; enforceCaps checks now). Events in flight are never
// dropped: they leave by ack, or return to pending on release and are capped then, so the
// spool can sit above its cap by at most what is in flight. Each drop stores one
// `agent.spool_dropped` event, in the same transaction as the drop.
//
// Corruption (not a database, failed integrity check, SQLITE_CORRUPT at any later call) never
// throws: the file is renamed aside, a fresh spool is created with an `agent.error` event (and
// an `agent.spool_dropped` event with reason 'corrupt' when the lost count is known), and the
// call that hit it is retried once on the fresh spool. Other SQLite failures (disk full, I/O)
// throw SpoolStorageError and leave the spool as it was before the call.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { checkEvent } from '../shared/checks.js';
import type { EventData, EventType, VigilEvent } from '../shared/events.js';
import { limits } from '../shared/protocol-constants.js';
import {
  countEventsIn,
  isCorruption,
  moveAside,
  openSpoolDatabase,
  type SpoolDatabase,
  type Synchronous,
} from './spool/database.js';
import {
  SpoolArgumentError,
  SpoolClosedError,
  SpoolEventTooLargeError,
  SpoolInvalidEventError,
  SpoolOptionsError,
  SpoolStorageError,
} from './spool/errors.js';
import { type Dropped, Statements, type Totals } from './spool/statements.js';

export * from './spool/errors.js';

export const SPOOL_FILE = 'spool.db';
export const DEFAULT_MAX_BYTES = 512 * 1024 * 1024;
export const DEFAULT_MAX_AGE_MS = 14 * 24 * 60 * 60 * 1000;
/** Past the size cap, the spool drops down to this fraction of it. */
export const DROP_TO_RATIO = 0.98;
/** Room left in a frame for `{"type":"events","seq":…,"events":[…]}` around the events. */
const FRAME_OVERHEAD_BYTES = 1024;
/** The age cap needs a query, so append checks it at most this often. */
const AGE_CHECK_INTERVAL_MS = 60_000;
/** After a drain, free pages beyond this are handed back to the file system... */
const SHRINK_FREE_BYTES = 64 * 1024 * 1024;
/** ...once the events left are below this. */
const SHRINK_BELOW_BYTES = 16 * 1024 * 1024;

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export interface SpoolOptions {
  /** State directory; the spool lives in `<dir>/spool.db` (created with mode 0700 if missing). */
  dir: string;
  /** Stamped on the events the spool itself records (drops, corruption). */
  agentId: string;
  /** Cap on the summed JSON size of stored events. Default 512 MiB. */
  maxBytes?: number;
  /** Cap on how long an event may wait in the spool. Default 14 days. */
  maxAgeMs?: number;
  /** Default 'full': appends survive power loss. 'normal' survives process crashes only. */
  synchronous?: Synchronous;
  /** Largest accepted event JSON. Default: one frame minus the message envelope. */
  maxEventBytes?: number;
  now?: () => number;
  log?: Logger;
}

export interface SpoolBatch {
  /** Monotonic across restarts; the link sends it as the message `seq`. */
  batchId: number;
  events: VigilEvent[];
  /** Summed JSON size of the events. */
  bytes: number;
}

export interface SpoolDepth {
  /** Stored events not yet acked, in flight included. */
  events: number;
  bytes: number;
  live: number;
  inFlight: number;
}

type DropReason = EventData<'agent.spool_dropped'>['reason'];

export class Spool {
  readonly file: string;
  private db: SpoolDatabase;
  private statements: Statements;
  private totals: Totals = { events: 0, bytes: 0, live: 0, inFlight: 0 };
  /** agent.error / agent.spool_dropped events about a corrupt file, stored once a fresh one is open. */
  private pendingReports: VigilEvent[] = [];
  private nextBatchId = 1;
  private lastAgeCheck = Number.NEGATIVE_INFINITY;
  private closed = false;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly maxEventBytes: number;
  private readonly synchronous: Synchronous;
  private readonly agentId: string;
  private readonly now: () => number;
  private readonly log: Logger | undefined;

  private constructor(options: SpoolOptions) {
    this.agentId = options.agentId;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.maxEventBytes = options.maxEventBytes ?? limits.maxFrameBytes - FRAME_OVERHEAD_BYTES;
    this.synchronous = options.synchronous ?? 'full';
    this.now = options.now ?? Date.now;
    this.log = options.log;
    fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    this.file = path.join(options.dir, SPOOL_FILE);

    let db: SpoolDatabase;
    try {
      db = openSpoolDatabase(this.file, this.synchronous);
    } catch (error) {
      if (!isCorruption(error))
        throw new SpoolStorageError(`cannot open spool ${this.file}`, { cause: error });
      db = this.replaceCorruptFile(error, countEventsIn(this.file));
    }
    this.db = db;
    this.statements = new Statements(db);
    this.guard(() => this.db.transaction(() => this.resume())());
  }

  static open(options: SpoolOptions): Spool {
    checkOptions(options);
    return new Spool(options);
  }

  /** Durably stores events in one transaction. live=true puts them ahead of the backlog. */
  append(events: readonly VigilEvent[], options: { live?: boolean } = {}): void {
    this.assertOpen();
    if (events.length === 0) return;
    const rows = events.map((event, index) => this.serialize(event, index));
    const live = options.live ? 1 : 0;
    this.guard(() => {
      this.db.transaction(() => {
        const createdAt = this.now();
        for (const row of rows) this.statements.insert.run(row.id, live, createdAt, row.bytes, row.json);
        this.totals.events += rows.length;
        this.totals.bytes += rows.reduce((sum, row) => sum + row.bytes, 0);
        this.totals.live += live * rows.length;
        this.applyCaps(false);
      })();
    });
  }

  /**
   * Next batch not yet in flight: live first, then oldest first; at most `maxEvents` events
   * whose JSON sizes plus one separator each stay within `maxBytes`. The first event is always
   * taken (append refuses events that would not fit a frame). Marks them in flight.
   * `liveOnly` leaves the backlog alone, for while the collector throttles it.
   */
  takeBatch(maxEvents: number, maxBytes: number, options: { liveOnly?: boolean } = {}): SpoolBatch | null {
    this.assertOpen();
    if (
      !Number.isSafeInteger(maxEvents) ||
      maxEvents < 1 ||
      !Number.isSafeInteger(maxBytes) ||
      maxBytes < 1
    ) {
      throw new SpoolArgumentError(`takeBatch needs positive integer limits, got ${maxEvents}, ${maxBytes}`);
    }
    return this.guard(() =>
      this.db.transaction((): SpoolBatch | null => {
        const picked: { seq: number; body: string }[] = [];
        let bytes = 0;
        let budget = 0;
        const source = options.liveOnly ? this.statements.pendingLive : this.statements.pending;
        for (const row of source.iterate(maxEvents)) {
          if (picked.length > 0 && budget + row.bytes + 1 > maxBytes) break;
          picked.push(row);
          bytes += row.bytes;
          budget += row.bytes + 1;
        }
        if (picked.length === 0) return null;
        const batchId = this.nextBatchId;
        for (const row of picked) this.statements.markInFlight.run(batchId, row.seq);
        this.statements.setMeta.run('next_batch_id', batchId + 1);
        this.nextBatchId = batchId + 1;
        this.totals.inFlight += picked.length;
        return { batchId, bytes, events: picked.map((row) => JSON.parse(row.body) as VigilEvent) };
      })(),
    );
  }

  /** The collector committed this batch: delete its events. Returns how many were deleted. */
  ack(batchId: number): number {
    this.assertOpen();
    return this.guard(() =>
      this.db.transaction(() => {
        const rows = this.statements.ack.all(batchId);
        this.subtract(rows);
        this.totals.inFlight -= rows.length;
        this.maybeShrinkFile();
        return rows.length;
      })(),
    );
  }

  /** Connection lost: everything in flight becomes pending again, in its original order. */
  releaseInFlight(): void {
    this.assertOpen();
    this.guard(() => {
      this.statements.releaseAll.run();
      this.totals.inFlight = 0;
    });
  }

  depth(): SpoolDepth {
    return { ...this.totals };
  }

  /** Applies both caps now (append applies them too): drops oldest, records agent.spool_dropped. */
  enforceCaps(): void {
    this.assertOpen();
    this.guard(() => this.db.transaction(() => this.applyCaps(true))());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  // --- internals -------------------------------------------------------------------------

  private serialize(event: VigilEvent, index: number): { id: string; json: string; bytes: number } {
    const checked = checkEvent(event);
    if (!checked.ok) {
      throw new SpoolInvalidEventError(
        `event ${index} rejected, nothing stored: ${checked.errors.join('; ')}`,
      );
    }
    const json = JSON.stringify(event);
    const bytes = Buffer.byteLength(json);
    if (bytes > this.maxEventBytes) {
      throw new SpoolEventTooLargeError(
        `event ${index} (${event.type}) is ${bytes} bytes, over the ${this.maxEventBytes}-byte limit; nothing stored`,
      );
    }
    return { id: event.id, json, bytes };
  }

  /** State carried over from the previous run: the batch counter and the running totals. */
  private resume(): void {
    // Whatever was in flight when the last run ended was never acked: send it again.
    this.statements.releaseAll.run();
    this.totals = this.statements.totals.get()!;
    // Seeded from the clock as well, so seq keeps increasing even when the stored counter is
    // lost with a corrupt file or with an unsynced transaction under synchronous=NORMAL.
    const stored = this.statements.getMeta.get('next_batch_id') ?? 1;
    this.nextBatchId = Math.max(stored, this.nextBatchId, Math.floor(this.now()));
    this.statements.setMeta.run('next_batch_id', this.nextBatchId);
    const reports = this.pendingReports;
    this.pendingReports = [];
    this.storeOwn(reports);
  }

  /**
   * Runs `fn` (one transaction or one statement). On corruption, replaces the spool and retries
   * once on the fresh file. On any failure the in-memory totals go back to what the rolled-back
   * transaction left in the file.
   */
  private guard<T>(fn: () => T): T {
    const before = { ...this.totals };
    let lastError: unknown;
    try {
      return fn();
    } catch (error) {
      this.totals = before;
      if (!isCorruption(error)) throw asStorageError(error);
      lastError = error;
    }
    this.recover(lastError);
    const fresh = { ...this.totals };
    try {
      return fn();
    } catch (error) {
      this.totals = fresh;
      throw asStorageError(error);
    }
  }

  private recover(error: unknown): void {
    const known = this.totals.events;
    try {
      this.db.close();
    } catch {
      // The handle of a damaged file may refuse to close cleanly; the file is replaced anyway.
    }
    this.db = this.replaceCorruptFile(error, known > 0 ? known : countEventsIn(this.file));
    this.statements = new Statements(this.db);
    this.totals = { events: 0, bytes: 0, live: 0, inFlight: 0 };
    this.db.transaction(() => this.resume())();
  }

  /**
   * Moves the damaged file aside and opens a fresh one. The reports of the loss wait in
   * `pendingReports` until `resume` stores them in the fresh file.
   */
  private replaceCorruptFile(error: unknown, lost: number | undefined): SpoolDatabase {
    const nowMs = this.now();
    const aside = moveAside(this.file, nowMs);
    const reason = error instanceof Error ? error.message : String(error);
    this.log?.error({ err: error, aside, lost }, 'spool corrupt; moved aside and starting a fresh one');
    this.pendingReports.push(
      this.makeEvent('agent.error', {
        code: 'spool_corrupt',
        message: `spool was corrupt (${reason}); moved aside to ${aside}`.slice(0, 4096),
      }),
    );
    if (lost !== undefined && lost > 0) {
      this.pendingReports.push(this.makeEvent('agent.spool_dropped', { dropped: lost, reason: 'corrupt' }));
    }
    return openSpoolDatabase(this.file, this.synchronous);
  }

  private applyCaps(forceAgeCheck: boolean): void {
    const nowMs = this.now();
    if (forceAgeCheck || nowMs - this.lastAgeCheck >= AGE_CHECK_INTERVAL_MS) {
      this.lastAgeCheck = nowMs;
      const cutoff = nowMs - this.maxAgeMs;
      let lastAged: number | undefined;
      for (const row of this.statements.pendingBySeq.iterate()) {
        if (row.created_at >= cutoff) break;
        lastAged = row.seq;
      }
      if (lastAged !== undefined) {
        const dropped = this.statements.summarizeAged.get(lastAged, cutoff)!;
        this.statements.dropAged.run(lastAged, cutoff);
        this.recordDrop('age', dropped);
      }
    }
    if (this.totals.bytes > this.maxBytes) {
      const target = Math.floor(this.maxBytes * DROP_TO_RATIO);
      const dropped: Dropped = { events: 0, bytes: 0, live: 0, oldest: null, newest: null };
      // Backlog first, live events only when no pending backlog is left.
      for (const live of [0, 1]) {
        const excess = this.totals.bytes - dropped.bytes - target;
        if (excess <= 0) break;
        let freed = 0;
        let lastSeq: number | undefined;
        for (const row of this.statements.pendingOfClass.iterate(live)) {
          freed += row.bytes;
          lastSeq = row.seq;
          if (freed >= excess) break;
        }
        if (lastSeq === undefined) continue;
        const part = this.statements.summarizeUpTo.get(live, lastSeq)!;
        this.statements.dropUpTo.run(live, lastSeq);
        dropped.events += part.events;
        dropped.bytes += part.bytes;
        dropped.live += part.live;
        dropped.oldest = Math.min(
          dropped.oldest ?? Number.POSITIVE_INFINITY,
          part.oldest ?? Number.POSITIVE_INFINITY,
        );
        dropped.newest = Math.max(
          dropped.newest ?? Number.NEGATIVE_INFINITY,
          part.newest ?? Number.NEGATIVE_INFINITY,
        );
      }
      this.recordDrop('size', dropped);
    }
  }

  /** Accounts for a drop and stores one agent.spool_dropped event (in the caller's transaction). */
  private recordDrop(reason: DropReason, dropped: Dropped): void {
    if (dropped.events === 0) return;
    this.totals.events -= dropped.events;
    this.totals.bytes -= dropped.bytes;
    this.totals.live -= dropped.live;
    const data: EventData<'agent.spool_dropped'> = { dropped: dropped.events, reason };
    if (dropped.oldest !== null) data.oldest = new Date(dropped.oldest).toISOString();
    if (dropped.newest !== null) data.newest = new Date(dropped.newest).toISOString();
    this.log?.warn(data, 'spool over its cap; oldest events dropped');
    this.storeOwn([this.makeEvent('agent.spool_dropped', data)]);
  }

  /** The spool's own reports go ahead of the backlog so a loss is visible quickly. */
  private storeOwn(events: VigilEvent[]): void {
    const createdAt = this.now();
    for (const event of events) {
      const json = JSON.stringify(event);
      const bytes = Buffer.byteLength(json);
      this.statements.insert.run(event.id, 1, createdAt, bytes, json);
      this.totals.events += 1;
      this.totals.bytes += bytes;
      this.totals.live += 1;
    }
  }

  /**
   * Once a backlog has drained, hands the freed pages back to the file system. Done then, not
   * after a drop, because a spool at its cap refills freed pages at once; and a nearly empty
   * file is cheap to compact, as few pages have to move.
   */
  private maybeShrinkFile(): void {
    if (this.totals.bytes > SHRINK_BELOW_BYTES) return;
    const free = Number(this.db.pragma('freelist_count', { simple: true }));
    const pageSize = Number(this.db.pragma('page_size', { simple: true }));
    if (free * pageSize > SHRINK_FREE_BYTES) this.db.pragma('incremental_vacuum');
  }

  private subtract(rows: readonly { bytes: number; live: number }[]): void {
    for (const row of rows) {
      this.totals.events -= 1;
      this.totals.bytes -= row.bytes;
      this.totals.live -= row.live;
    }
  }

  private makeEvent<T extends EventType>(type: T, data: EventData<T>): VigilEvent {
    return {
      id: randomUUID(),
      agentId: this.agentId,
      time: new Date(this.now()).toISOString(),
      type,
      data,
    } as VigilEvent;
  }

  private assertOpen(): void {
    if (this.closed) throw new SpoolClosedError('spool is closed');
  }
}

/** SQLite failures other than corruption reach the caller as one error kind; ours pass through. */
function asStorageError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string' && code.startsWith('SQLITE_')) {
    return new SpoolStorageError(`spool storage failed: ${error.message}`, { cause: error });
  }
  return error;
}

function checkOptions(options: SpoolOptions): void {
  if (typeof options.dir !== 'string' || options.dir === '') throw new SpoolOptionsError('dir is required');
  if (!UUID.test(options.agentId))
    throw new SpoolOptionsError(`agentId must be a UUID, got ${options.agentId}`);
  for (const key of ['maxBytes', 'maxAgeMs', 'maxEventBytes'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new SpoolOptionsError(`${key} must be a positive integer, got ${value}`);
    }
  }
  if (
    options.synchronous !== undefined &&
    options.synchronous !== 'normal' &&
    options.synchronous !== 'full'
  ) {
    throw new SpoolOptionsError(`synchronous must be 'normal' or 'full', got ${String(options.synchronous)}`);
  }
}
