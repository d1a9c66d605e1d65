// SQL for notification channels, the outbox and delivery attempts. The outbox is a work queue
// shared by every collector process: rows are claimed with FOR UPDATE SKIP LOCKED and leased by
// moving next_attempt_at past the delivery timeout, so a process that dies mid-delivery leaves the
// row to be claimed again once the lease runs out — with the same id, the receiver's dedup key.
import type { Queryable } from '../db/db.js';
import type { HttpChannel } from './channels.js';
import type { SmtpConfig } from './email.js';
import type { TriggerKind } from './types.js';

export interface EmailChannel {
  type: 'email';
  smtp: SmtpConfig;
  from: string;
  to: string[];
}

export type ChannelSettings = HttpChannel | EmailChannel;
export type ChannelType = ChannelSettings['type'];
export const channelTypes: ChannelType[] = ['webhook', 'slack', 'teams', 'pagerduty', 'email'];

export interface ChannelRecord {
  id: string;
  name: string;
  type: ChannelType;
  settings: ChannelSettings;
  events: TriggerKind[];
  enabled: boolean;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

interface ChannelRow {
  id: string;
  name: string;
  type: ChannelType;
  settings: ChannelSettings;
  events: TriggerKind[];
  enabled: boolean;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
}

const toChannel = (row: ChannelRow): ChannelRecord => ({
  id: row.id,
  name: row.name,
  type: row.type,
  settings: row.settings,
  events: row.events,
  enabled: row.enabled,
  disabledReason: row.disabled_reason,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

const channelColumns = 'id, name, type, settings, events, enabled, disabled_reason, created_at, updated_at';

/** Inserts a channel; undefined when the name is taken. */
export async function insertChannel(
  db: Queryable,
  channel: { name: string; settings: ChannelSettings; events: TriggerKind[]; enabled: boolean },
): Promise<ChannelRecord | undefined> {
  const { rows } = await db.query<ChannelRow>(
    `INSERT INTO notify_channels (name, type, settings, events, enabled) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (name) WHERE deleted_at IS NULL DO NOTHING RETURNING ${channelColumns}`,
    [channel.name, channel.settings.type, JSON.stringify(channel.settings), channel.events, channel.enabled],
  );
  return rows[0] ? toChannel(rows[0]) : undefined;
}

export async function listChannels(db: Queryable): Promise<ChannelRecord[]> {
  const { rows } = await db.query<ChannelRow>(
    `SELECT ${channelColumns} FROM notify_channels WHERE deleted_at IS NULL ORDER BY name`,
  );
  return rows.map(toChannel);
}

export async function getChannel(db: Queryable, id: string): Promise<ChannelRecord | undefined> {
  const { rows } = await db.query<ChannelRow>(
    `SELECT ${channelColumns} FROM notify_channels WHERE id = $1 AND deleted_at IS NULL`,
    [id],
  );
  return rows[0] ? toChannel(rows[0]) : undefined;
}

export async function updateChannel(
  db: Queryable,
  id: string,
  changes: { name?: string; settings?: ChannelSettings; events?: TriggerKind[]; enabled?: boolean },
): Promise<ChannelRecord | undefined> {
  const { rows } = await db.query<ChannelRow>(
    `UPDATE notify_channels SET
       name = COALESCE($2, name),
       settings = COALESCE($3::jsonb, settings),
       events = COALESCE($4::text[], events),
       enabled = COALESCE($5, enabled),
       disabled_reason = CASE WHEN $5 IS TRUE THEN NULL ELSE disabled_reason END,
       updated_at = now()
     WHERE id = $1 AND deleted_at IS NULL RETURNING ${channelColumns}`,
    [
      id,
      changes.name ?? null,
      changes.settings ? JSON.stringify(changes.settings) : null,
      changes.events ?? null,
      changes.enabled ?? null,
    ],
  );
  return rows[0] ? toChannel(rows[0]) : undefined;
}

/**
 * Soft-deletes a channel: switched off, hidden from lists, what it still had pending cancelled;
 * its deliveries and attempts stay (they are part of the incidents' record).
 */
export async function deleteChannel(tx: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE notify_channels SET deleted_at = now(), enabled = false, disabled_reason = 'deleted', updated_at = now()
      WHERE id = $1 AND deleted_at IS NULL`,
    [id],
  );
  if (rowCount === 0) return false;
  await tx.query(
    `UPDATE notify_outbox SET status = 'cancelled', finished_at = now(), last_error = 'channel deleted'
      WHERE channel_id = $1 AND status = 'pending'`,
    [id],
  );
  return true;
}

/** Turns a channel off (410 Gone) and cancels what was still waiting for it. */
export async function disableChannel(tx: Queryable, id: string, reason: string): Promise<void> {
  await tx.query(
    'UPDATE notify_channels SET enabled = false, disabled_reason = $2, updated_at = now() WHERE id = $1',
    [id, reason],
  );
  await tx.query(
    `UPDATE notify_outbox SET status = 'cancelled', finished_at = now(), last_error = $2
      WHERE channel_id = $1 AND status = 'pending'`,
    [id, `channel disabled: ${reason}`],
  );
}

// ---------------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------------

export interface OutboxInsert {
  kind: TriggerKind;
  incidentId: string | null;
  /** Builds the stored payload from the row id (the trigger id). */
  payload: (id: string) => Record<string, unknown>;
  excludeChannelId?: string;
}

/** One pending row per enabled channel subscribed to the kind; returns the row ids. */
export async function insertOutboxRows(tx: Queryable, insert: OutboxInsert): Promise<string[]> {
  const { rows: channels } = await tx.query<{ id: string }>(
    `SELECT id FROM notify_channels
      WHERE enabled AND deleted_at IS NULL AND $1 = ANY(events) AND ($2::uuid IS NULL OR id <> $2::uuid)`,
    [insert.kind, insert.excludeChannelId ?? null],
  );
  if (channels.length === 0) return [];
  const { rows: ids } = await tx.query<{ id: string }>(
    'SELECT gen_random_uuid()::text AS id FROM generate_series(1, $1)',
    [channels.length],
  );
  const records = channels.map((channel, i) => {
    const id = ids[i]!.id;
    return { id, channel_id: channel.id, payload: insert.payload(id) };
  });
  await tx.query(
    `INSERT INTO notify_outbox (id, channel_id, incident_id, kind, payload)
     SELECT id, channel_id, $2, $3, payload
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, channel_id uuid, payload jsonb)`,
    [JSON.stringify(records), insert.incidentId, insert.kind],
  );
  return records.map((r) => r.id);
}

export interface ClaimedDelivery {
  id: string;
  channelId: string;
  incidentId: string | null;
  kind: TriggerKind;
  payload: Record<string, unknown>;
  /** 1-based number of this attempt. */
  attempt: number;
  channel: ChannelRecord;
  startedAt: Date;
}

/**
 * Claims due rows and leases them for `leaseMs`; records an in-flight attempt for each. Rows of a
 * disabled channel are not claimed (a 410 cancels them; an admin's switch-off leaves them waiting).
 */
export async function claimDueDeliveries(
  db: Queryable,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  // One statement: claim, lease, log the in-flight attempt and read the channel in a single round trip.
  const { rows } = await db.query<{
    id: string;
    channel_id: string;
    incident_id: string | null;
    kind: TriggerKind;
    payload: Record<string, unknown>;
    attempts: number;
    started_at: Date;
    channel: ChannelRow;
  }>(
    `WITH due AS (
       SELECT o.id FROM notify_outbox o
        WHERE o.status = 'pending' AND o.next_attempt_at <= now()
          -- A channel switched off by an admin keeps its rows waiting until it is switched on.
          AND EXISTS (SELECT 1 FROM notify_channels ch
                       WHERE ch.id = o.channel_id AND ch.enabled AND ch.deleted_at IS NULL)
        ORDER BY o.next_attempt_at LIMIT $1 FOR UPDATE OF o SKIP LOCKED),
     claimed AS (
       UPDATE notify_outbox o SET attempts = o.attempts + 1,
              next_attempt_at = clock_timestamp() + make_interval(secs => $2::double precision / 1000)
         FROM due WHERE o.id = due.id
       RETURNING o.id, o.channel_id, o.incident_id, o.kind, o.payload, o.attempts, clock_timestamp() AS started_at),
     logged AS (
       INSERT INTO notify_attempts (outbox_id, attempt, started_at, outcome)
       SELECT id, attempts, started_at, 'in_flight' FROM claimed),
     -- A row claimed again while an earlier attempt is still in flight: that attempt's process
     -- died or stalled past its lease, so the attempt is over (failed), not in flight forever.
     expired AS (
       UPDATE notify_attempts a SET outcome = 'failed', error = 'lease expired', finished_at = now()
         FROM claimed c WHERE a.outbox_id = c.id AND a.attempt < c.attempts AND a.outcome = 'in_flight')
     SELECT c.id, c.channel_id, c.incident_id, c.kind, c.payload, c.attempts, c.started_at,
            to_jsonb(ch) AS channel
       FROM claimed c JOIN notify_channels ch ON ch.id = c.channel_id`,
    [limit, leaseMs],
  );
  return rows.map((row) => ({
    id: row.id,
    channelId: row.channel_id,
    incidentId: row.incident_id,
    kind: row.kind,
    payload: row.payload,
    attempt: row.attempts,
    channel: toChannel(row.channel),
    startedAt: new Date(row.started_at),
  }));
}

export interface AttemptRecord {
  outboxId: string;
  attempt: number;
  ok: boolean;
  responseStatus: number | null;
  durationMs: number;
  error: string | null;
}

export async function recordAttempt(tx: Queryable, attempt: AttemptRecord): Promise<void> {
  await tx.query(
    `UPDATE notify_attempts SET outcome = $3, response_status = $4, duration_ms = $5, error = $6, finished_at = now()
      WHERE outbox_id = $1 AND attempt = $2`,
    [
      attempt.outboxId,
      attempt.attempt,
      attempt.ok ? 'ok' : 'failed',
      attempt.responseStatus,
      attempt.durationMs,
      attempt.error,
    ],
  );
}

/**
 * The common case in one statement (no transaction round trips): records the successful attempt,
 * marks the row delivered while this process still holds it, and adds the incident timeline entry.
 * False when the lease ran out and another worker took the row.
 */
export async function settleDelivered(
  db: Queryable,
  attempt: Omit<AttemptRecord, 'ok' | 'error'>,
  timelineDetails: Record<string, unknown>,
): Promise<boolean> {
  const { rows } = await db.query<{ settled: number }>(
    `WITH attempt AS (
       UPDATE notify_attempts SET outcome = 'ok', response_status = $3, duration_ms = $4, finished_at = now()
        WHERE outbox_id = $1 AND attempt = $2),
     settled AS (
       UPDATE notify_outbox SET status = 'delivered', finished_at = now(), last_error = NULL
        WHERE id = $1 AND attempts = $2 AND status = 'pending' RETURNING incident_id),
     timeline AS (
       INSERT INTO incident_timeline (incident_id, actor, kind, details)
       SELECT incident_id, 'system:notify', 'trigger.delivered', $5 FROM settled WHERE incident_id IS NOT NULL)
     SELECT count(*)::int AS settled FROM settled`,
    [
      attempt.outboxId,
      attempt.attempt,
      attempt.responseStatus,
      attempt.durationMs,
      JSON.stringify(timelineDetails),
    ],
  );
  return rows[0]!.settled > 0;
}

/**
 * Moves a row on after an attempt, only while this process still holds it (same attempt count,
 * still pending); false when the lease ran out and another worker took the row.
 */
export async function settleDelivery(
  tx: Queryable,
  id: string,
  attempt: number,
  outcome:
    | { status: 'delivered' }
    | { status: 'pending'; nextAttemptAt: Date; error: string }
    | { status: 'dead' | 'cancelled'; error: string },
): Promise<boolean> {
  const { rowCount } = await tx.query(
    `UPDATE notify_outbox SET status = $3,
            next_attempt_at = COALESCE($4, next_attempt_at),
            last_error = COALESCE($5, last_error),
            finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END
      WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
    [
      id,
      attempt,
      outcome.status,
      outcome.status === 'pending' ? outcome.nextAttemptAt : null,
      outcome.status === 'delivered' ? null : outcome.error,
    ],
  );
  return rowCount > 0;
}

export interface DeliveryView {
  id: string;
  channelId: string;
  channelName: string;
  channelType: ChannelType;
  /** The channel was deleted since; its deliveries stay on record. */
  channelDeleted: boolean;
  kind: TriggerKind;
  incidentId: string | null;
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  attemptLog: Array<{
    attempt: number;
    startedAt: Date;
    finishedAt: Date | null;
    outcome: string;
    responseStatus: number | null;
    durationMs: number | null;
    error: string | null;
  }>;
}

async function deliveriesWhere(
  db: Queryable,
  where: string,
  params: unknown[],
  limit: number,
): Promise<DeliveryView[]> {
  params.push(limit);
  const { rows } = await db.query<{
    id: string;
    channel_id: string;
    channel_name: string;
    channel_type: ChannelType;
    channel_deleted: boolean;
    kind: TriggerKind;
    incident_id: string | null;
    status: string;
    attempts: number;
    next_attempt_at: Date;
    last_error: string | null;
    created_at: Date;
    finished_at: Date | null;
    attempt_log: Array<{
      attempt: number;
      started_at: string;
      finished_at: string | null;
      outcome: string;
      response_status: number | null;
      duration_ms: number | null;
      error: string | null;
    }>;
  }>(
    `SELECT o.id, o.channel_id, c.name AS channel_name, c.type AS channel_type,
            c.deleted_at IS NOT NULL AS channel_deleted, o.kind, o.incident_id, o.status,
            o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.finished_at,
            COALESCE((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt, 'started_at', a.started_at,
                        'finished_at', a.finished_at, 'outcome', a.outcome, 'response_status', a.response_status,
                        'duration_ms', a.duration_ms, 'error', a.error) ORDER BY a.attempt)
                        FROM notify_attempts a WHERE a.outbox_id = o.id), '[]'::jsonb) AS attempt_log
       FROM notify_outbox o JOIN notify_channels c ON c.id = o.channel_id
      WHERE ${where} ORDER BY o.created_at DESC, o.id LIMIT $${params.length}`,
    params,
  );
  return rows.map((row) => ({
    id: row.id,
    channelId: row.channel_id,
    channelName: row.channel_name,
    channelType: row.channel_type,
    channelDeleted: row.channel_deleted,
    kind: row.kind,
    incidentId: row.incident_id,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: new Date(row.next_attempt_at),
    lastError: row.last_error,
    createdAt: new Date(row.created_at),
    finishedAt: row.finished_at === null ? null : new Date(row.finished_at),
    attemptLog: row.attempt_log.map((a) => ({
      attempt: a.attempt,
      startedAt: new Date(a.started_at),
      finishedAt: a.finished_at === null ? null : new Date(a.finished_at),
      outcome: a.outcome,
      responseStatus: a.response_status,
      durationMs: a.duration_ms,
      error: a.error,
    })),
  }));
}

export const deliveriesOfIncident = (db: Queryable, incidentId: string) =>
  deliveriesWhere(db, 'o.incident_id = $1', [incidentId], 500);

export const deadLetters = (db: Queryable, limit: number) =>
  deliveriesWhere(db, "o.status = 'dead'", [], limit);

/** Dead letters of the last `days` days, per incident: what the console's banner announces. */
export async function recentDeadLetterCount(db: Queryable, days = 7): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM notify_outbox
      WHERE status = 'dead' AND finished_at > now() - make_interval(days => $1)`,
    [days],
  );
  return rows[0]?.n ?? 0;
}
