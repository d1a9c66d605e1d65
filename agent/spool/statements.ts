// The spool's prepared statements, recreated whenever the database handle is (after corruption).
import type { SpoolDatabase } from './database.js';

export type Totals = { events: number; bytes: number; live: number; inFlight: number };
/** What a drop removed, summed in SQL so a drop of millions of rows costs no JS memory. */
export type Dropped = {
  events: number;
  bytes: number;
  live: number;
  oldest: number | null;
  newest: number | null;
};

const summary = `SELECT count(*) AS events, coalesce(sum(bytes), 0) AS bytes, coalesce(sum(live), 0) AS live,
  min(created_at) AS oldest, max(created_at) AS newest`;

export class Statements {
  readonly insert;
  readonly pending;
  readonly pendingLive;
  readonly markInFlight;
  readonly ack;
  readonly releaseAll;
  readonly totals;
  readonly pendingBySeq;
  readonly summarizeAged;
  readonly dropAged;
  readonly pendingOfClass;
  readonly summarizeUpTo;
  readonly dropUpTo;
  readonly getMeta;
  readonly setMeta;

  constructor(db: SpoolDatabase) {
    this.insert = db.prepare<[string, number, number, number, string]>(
      'INSERT INTO events (id, live, created_at, bytes, body) VALUES (?, ?, ?, ?, ?)',
    );
    this.pending = db.prepare<[number], { seq: number; bytes: number; body: string }>(
      'SELECT seq, bytes, body FROM events WHERE batch_id IS NULL ORDER BY live DESC, seq LIMIT ?',
    );
    this.pendingLive = db.prepare<[number], { seq: number; bytes: number; body: string }>(
      'SELECT seq, bytes, body FROM events WHERE batch_id IS NULL AND live = 1 ORDER BY seq LIMIT ?',
    );
    this.markInFlight = db.prepare<[number, number]>('UPDATE events SET batch_id = ? WHERE seq = ?');
    this.ack = db.prepare<[number], { bytes: number; live: number }>(
      'DELETE FROM events WHERE batch_id = ? RETURNING bytes, live',
    );
    this.releaseAll = db.prepare('UPDATE events SET batch_id = NULL WHERE batch_id IS NOT NULL');
    this.totals = db.prepare<[], Totals>(
      `SELECT count(*) AS events, coalesce(sum(bytes), 0) AS bytes, coalesce(sum(live), 0) AS live,
         count(batch_id) AS inFlight FROM events`,
    );
    // Insertion order is age order, so both age queries walk the rowid from the oldest end and
    // stop early instead of scanning the table for created_at.
    this.pendingBySeq = db.prepare<[], { seq: number; created_at: number }>(
      'SELECT seq, created_at FROM events WHERE batch_id IS NULL ORDER BY seq',
    );
    const aged = 'FROM events WHERE batch_id IS NULL AND seq <= ? AND created_at < ?';
    this.summarizeAged = db.prepare<[number, number], Dropped>(`${summary} ${aged}`);
    this.dropAged = db.prepare<[number, number]>(`DELETE ${aged}`);
    // The spool's own drop reports are never dropped for size: a dropped report would take its
    // count with it (they are small, and they are what tells the collector what was lost).
    const notReport = "json_extract(body, '$.type') <> 'agent.spool_dropped'";
    this.pendingOfClass = db.prepare<[number], { seq: number; bytes: number }>(
      `SELECT seq, bytes FROM events WHERE batch_id IS NULL AND live = ? AND ${notReport} ORDER BY seq`,
    );
    const upTo = `FROM events WHERE batch_id IS NULL AND live = ? AND seq <= ? AND ${notReport}`;
    this.summarizeUpTo = db.prepare<[number, number], Dropped>(`${summary} ${upTo}`);
    this.dropUpTo = db.prepare<[number, number]>(`DELETE ${upTo}`);
    this.getMeta = db.prepare<[string], number>('SELECT value FROM meta WHERE key = ?').pluck();
    this.setMeta = db.prepare<[string, number]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
  }
}
