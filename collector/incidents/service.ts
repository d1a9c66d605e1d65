// Incident changes as single transactions: every change writes its timeline entry, recomputes the
// checklist when clocks or affected counts move, and writes its triggers to the outbox — all with
// the caller's transaction, so they commit together or not at all.
import { IANAZone } from 'luxon';
import { type Level, levels } from '../alerts/repository.js';
import { type AuditActor, recordAudit } from '../audit/repository.js';
import type { Queryable } from '../db/db.js';
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import { enqueueTrigger } from '../notify/outbox.js';
import type { TriggerIncident, TriggerKind } from '../notify/types.js';
import { buildChecklist } from './checklist.js';
import { computeDeadlines, type Deadline } from './deadlines.js';
import { incidentConsoleUrl } from './links.js';
import {
  addTimeline,
  alertsByIds,
  type Contacts,
  type DataCategory,
  DEFAULT_HOTLINE,
  getIncident,
  getTask,
  type HotlineInputs,
  type IncidentChanges,
  type IncidentRecord,
  type IncidentStatus,
  incidentStatuses,
  insertIncident,
  linkAlerts,
  listTasks,
  type Resolution,
  syncTasks,
  type TaskRecord,
  type TaskState,
  updateIncidentRow,
  updateTaskRow,
  userExists,
} from './repository.js';
import { hotlineForecast, StaffingInputError } from './staffing.js';

export interface IncidentContext {
  /** Console base URL for links in notifications. */
  publicUrl: string;
}

/** Who made a change: user:<id>, rule:<id> or system:<worker>. */
export type Actor = string;

/**
 * The audit actor of a change: the request's when a person made it, else one named after the
 * timeline actor (rules and workers have no user id).
 */
export function auditActorFor(actor: Actor, audit?: AuditActor): AuditActor {
  if (audit) return audit;
  return { userId: actor.startsWith('user:') ? actor.slice(5) : null, username: actor };
}

/** The most people one jurisdiction may list: above any real population, far below what stalls the forecast. */
export const MAX_AFFECTED_PER_JURISDICTION = 350_000_000;

export interface IncidentFields {
  title?: string;
  summary?: string;
  severity?: Level;
  ownerId?: string | null;
  extraAgentIds?: string[];
  extraUsers?: string[];
  dataCategories?: DataCategory[];
  affectedCounts?: Record<string, number>;
  awareAt?: Date | null;
  determinedAt?: Date | null;
  discoveredAt?: Date | null;
  containedAt?: Date | null;
  timezone?: string;
  contacts?: Contacts;
  hotline?: Partial<HotlineInputs>;
}

export interface OpenIncidentInput extends IncidentFields {
  title: string;
  severity: Level;
  alertIds?: string[];
  /** Incidents opened by escalation rules: one open incident per key. */
  escalationKey?: string;
}

export interface IncidentPatch extends IncidentFields {
  status?: IncidentStatus;
  resolution?: Resolution;
}

const severityRank = (level: Level) => levels.indexOf(level);
const CLOCK_FIELDS = ['awareAt', 'determinedAt', 'discoveredAt', 'affectedCounts', 'timezone'] as const;

export function deadlinesOf(incident: IncidentRecord): Deadline[] {
  const clocks: Partial<Record<'aware' | 'determined' | 'discovered', Date>> = {};
  if (incident.awareAt) clocks.aware = incident.awareAt;
  if (incident.determinedAt) clocks.determined = incident.determinedAt;
  if (incident.discoveredAt) clocks.discovered = incident.discoveredAt;
  return computeDeadlines({ clocks, affected: incident.affectedCounts, timeZone: incident.timezone });
}

/** Checks what the pure modules would refuse, so bad input is a 400 that changes nothing. */
async function validateFields(tx: Queryable, fields: IncidentFields, merged: IncidentRecord): Promise<void> {
  for (const [jurisdiction, count] of Object.entries(fields.affectedCounts ?? {})) {
    if (count > MAX_AFFECTED_PER_JURISDICTION) {
      throw new BadRequestError(
        `affectedCounts.${jurisdiction} is ${count}; at most ${MAX_AFFECTED_PER_JURISDICTION} people per jurisdiction`,
        undefined,
        'affected_count_too_large',
      );
    }
  }
  if (fields.timezone !== undefined && !IANAZone.isValidZone(fields.timezone)) {
    throw new BadRequestError(
      `timezone "${fields.timezone}" is not an IANA time zone`,
      undefined,
      'timezone_invalid',
    );
  }
  try {
    deadlinesOf(merged);
  } catch (err) {
    throw new BadRequestError((err as Error).message, undefined, 'affected_counts_invalid');
  }
  try {
    hotlineForecast({ ...hotlineInputs(merged.hotline), affectedPeople: 0 });
  } catch (err) {
    if (err instanceof StaffingInputError)
      throw new BadRequestError(err.message, undefined, 'hotline_invalid');
    throw err;
  }
  if (fields.ownerId && !(await userExists(tx, fields.ownerId)))
    throw new NotFoundError('owner user', 'owner_not_found');
}

export function hotlineInputs(hotline: HotlineInputs) {
  return {
    ahtSec: hotline.ahtSec,
    callShare: hotline.callShare,
    targetServiceLevel: hotline.targetServiceLevel,
    targetAnswerSec: hotline.targetAnswerSec,
    ...(hotline.outsourcerPool && { outsourcerPool: hotline.outsourcerPool }),
  };
}

/** The earliest due task still open: what a notification shows as "next deadline". */
export function nextDeadline(tasks: TaskRecord[]): { title: string; dueAt: Date } | undefined {
  const open = tasks.filter((t) => (t.state === 'todo' || t.state === 'doing') && t.dueAt !== null);
  open.sort((a, b) => a.dueAt!.getTime() - b.dueAt!.getTime());
  const first = open[0];
  return first ? { title: first.title, dueAt: first.dueAt! } : undefined;
}

export function triggerIncident(
  ctx: IncidentContext,
  incident: IncidentRecord,
  next: { title: string; dueAt: Date } | undefined,
): TriggerIncident {
  return {
    id: incident.id,
    title: incident.title,
    severity: incident.severity,
    status: incident.status,
    url: incidentConsoleUrl(ctx.publicUrl, incident.id),
    summary: incident.summary,
    ...(next && { nextDeadline: next }),
  };
}

async function announce(
  tx: Queryable,
  ctx: IncidentContext,
  incident: IncidentRecord,
  kind: TriggerKind,
  actor: Actor,
  next?: { title: string; dueAt: Date },
): Promise<string[]> {
  const shown = next ?? nextDeadline(await listTasks(tx, incident.id));
  const ids = await enqueueTrigger(tx, { kind, incident: triggerIncident(ctx, incident, shown) });
  await addTimeline(tx, incident.id, actor, 'trigger.queued', { kind, outboxIds: ids });
  return ids;
}

async function rebuildChecklist(tx: Queryable, incident: IncidentRecord): Promise<void> {
  await syncTasks(
    tx,
    incident.id,
    buildChecklist({ openedAt: incident.createdAt, deadlines: deadlinesOf(incident) }),
  );
}

/** Alerts must exist and belong to no other incident. */
async function checkAlertsFree(tx: Queryable, alertIds: string[], incidentId?: string): Promise<void> {
  if (alertIds.length === 0) return;
  const found = await alertsByIds(tx, alertIds);
  const missing = alertIds.filter((id) => !found.some((a) => a.id === id));
  if (missing.length > 0) throw new NotFoundError(`alert ${missing.join(', ')}`, 'alert_not_found');
  const taken = found.filter((a) => a.incidentId !== null && a.incidentId !== incidentId);
  if (taken.length > 0) {
    throw new ConflictError(
      `alert ${taken.map((a) => a.id).join(', ')} already belongs to incident ${taken[0]!.incidentId}`,
      'alert_already_linked',
    );
  }
}

function recordFrom(input: OpenIncidentInput, now: Date): IncidentRecord {
  return {
    id: '00000000-0000-0000-0000-000000000000',
    title: input.title,
    summary: input.summary ?? '',
    severity: input.severity,
    status: 'new',
    resolution: null,
    ownerId: input.ownerId ?? null,
    extraAgentIds: input.extraAgentIds ?? [],
    extraUsers: input.extraUsers ?? [],
    dataCategories: input.dataCategories ?? [],
    affectedCounts: input.affectedCounts ?? {},
    awareAt: input.awareAt === undefined ? now : input.awareAt,
    determinedAt: input.determinedAt ?? null,
    discoveredAt: input.discoveredAt ?? null,
    containedAt: input.containedAt ?? null,
    closedAt: null,
    timezone: input.timezone ?? 'UTC',
    contacts: input.contacts ?? {},
    hotline: { ...DEFAULT_HOTLINE, ...input.hotline },
    openedBy: '',
    escalationKey: input.escalationKey ?? null,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * Opens an incident with its alerts and checklist and queues incident.opened. With an escalation key
 * that already has an open incident, returns undefined and changes nothing.
 */
export async function openIncident(
  tx: Queryable,
  ctx: IncidentContext,
  input: OpenIncidentInput,
  actor: Actor,
  audit?: AuditActor,
): Promise<IncidentRecord | undefined> {
  const alertIds = [...new Set(input.alertIds ?? [])];
  const draft = recordFrom(input, new Date());
  await validateFields(tx, input, draft);
  await checkAlertsFree(tx, alertIds);
  const incident = await insertIncident(tx, {
    title: draft.title,
    summary: draft.summary,
    severity: draft.severity,
    ownerId: draft.ownerId,
    extraAgentIds: draft.extraAgentIds,
    extraUsers: draft.extraUsers,
    dataCategories: draft.dataCategories,
    affectedCounts: draft.affectedCounts,
    awareAt: draft.awareAt,
    determinedAt: draft.determinedAt,
    discoveredAt: draft.discoveredAt,
    containedAt: draft.containedAt,
    timezone: draft.timezone,
    contacts: draft.contacts,
    hotline: draft.hotline,
    openedBy: actor,
    escalationKey: input.escalationKey,
  });
  if (!incident) return undefined;
  const linked = await linkAlerts(tx, incident.id, alertIds, actor);
  if (linked.length !== alertIds.length)
    throw new ConflictError('an alert was linked elsewhere meanwhile', 'alert_already_linked');
  await rebuildChecklist(tx, incident);
  await addTimeline(tx, incident.id, actor, 'incident.opened', {
    title: incident.title,
    severity: incident.severity,
    alertIds,
  });
  await announce(tx, ctx, incident, 'incident.opened', actor);
  await recordAudit(tx, auditActorFor(actor, audit), {
    action: 'incident.create',
    targetType: 'incident',
    targetId: incident.id,
    after: { ...auditedFields(incident), alertIds },
  });
  return incident;
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What the audit log keeps of an incident (timestamps as ISO strings). */
function auditedFields(incident: IncidentRecord) {
  const { createdAt: _created, updatedAt: _updated, ...fields } = incident;
  return fields;
}

/** Applies a patch: status moves forward only, closing needs a resolution, closed is final. */
export async function updateIncident(
  tx: Queryable,
  ctx: IncidentContext,
  id: string,
  patch: IncidentPatch,
  actor: Actor,
  audit?: AuditActor,
): Promise<IncidentRecord> {
  const current = await getIncident(tx, id, { forUpdate: true });
  if (!current) throw new NotFoundError('incident', 'incident_not_found');
  if (current.status === 'closed') throw new ConflictError('the incident is closed', 'incident_closed');
  const changes: IncidentChanges = {};
  for (const [key, value] of Object.entries(patch) as Array<[keyof IncidentPatch, unknown]>) {
    if (value === undefined || key === 'hotline') continue;
    if (!sameValue(current[key as keyof IncidentRecord], value))
      (changes as Record<string, unknown>)[key] = value;
  }
  if (patch.hotline) {
    const hotline = { ...current.hotline, ...patch.hotline };
    if (!sameValue(hotline, current.hotline)) changes.hotline = hotline;
  }
  const now = new Date();
  if (changes.status !== undefined) {
    const from = incidentStatuses.indexOf(current.status);
    const to = incidentStatuses.indexOf(changes.status);
    if (to < from) {
      throw new ConflictError(
        `status cannot go back from ${current.status} to ${changes.status}`,
        'status_transition_invalid',
      );
    }
    if (changes.status === 'closed') {
      if (!patch.resolution)
        throw new BadRequestError('closing an incident needs a resolution', undefined, 'resolution_required');
      changes.closedAt = now;
    }
    if (
      to >= incidentStatuses.indexOf('contained') &&
      current.containedAt === null &&
      patch.containedAt === undefined
    ) {
      changes.containedAt = now;
    }
  }
  if (patch.resolution !== undefined && (changes.status ?? current.status) !== 'closed') {
    throw new BadRequestError(
      'a resolution is only given when closing',
      undefined,
      'resolution_without_close',
    );
  }
  const merged = { ...current, ...changes } as IncidentRecord;
  await validateFields(tx, patch, merged);
  if (Object.keys(changes).length === 0) return current;

  const updated = await updateIncidentRow(tx, id, changes);
  if (CLOCK_FIELDS.some((field) => field in changes)) await rebuildChecklist(tx, updated);
  const diff: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of Object.keys(changes) as Array<keyof IncidentChanges>) {
    diff[key] = { from: current[key], to: updated[key] };
  }
  await addTimeline(tx, id, actor, 'incident.updated', { changes: diff });
  await recordAudit(tx, auditActorFor(actor, audit), {
    action: changes.status !== undefined ? 'incident.status' : 'incident.update',
    targetType: 'incident',
    targetId: id,
    before: Object.fromEntries(Object.entries(diff).map(([key, d]) => [key, d.from])),
    after: Object.fromEntries(Object.entries(diff).map(([key, d]) => [key, d.to])),
  });
  // Someone took the incident on: pagers stop escalating (PagerDuty acknowledge).
  if (current.status === 'new' && changes.status !== undefined && changes.status !== 'closed') {
    await announce(tx, ctx, updated, 'incident.acknowledged', actor);
  }
  if (changes.severity !== undefined && severityRank(changes.severity) > severityRank(current.severity)) {
    await announce(tx, ctx, updated, 'incident.severity_raised', actor);
  }
  if (changes.status === 'closed') await announce(tx, ctx, updated, 'incident.closed', actor);
  return updated;
}

/** Links further alerts; returns the ids linked now. */
export async function linkAlertsToIncident(
  tx: Queryable,
  id: string,
  alertIds: string[],
  actor: Actor,
  audit?: AuditActor,
): Promise<string[]> {
  const incident = await getIncident(tx, id, { forUpdate: true });
  if (!incident) throw new NotFoundError('incident', 'incident_not_found');
  if (incident.status === 'closed') throw new ConflictError('the incident is closed', 'incident_closed');
  const unique = [...new Set(alertIds)];
  await checkAlertsFree(tx, unique, id);
  const linked = await linkAlerts(tx, id, unique, actor);
  if (linked.length > 0) {
    await addTimeline(tx, id, actor, 'alerts.linked', { alertIds: linked });
    await recordAudit(tx, auditActorFor(actor, audit), {
      action: 'incident.link_alerts',
      targetType: 'incident',
      targetId: id,
      after: { alertIds: linked },
    });
  }
  return linked;
}

export interface TaskPatch {
  state?: TaskState;
  ownerId?: string | null;
  dueAt?: Date | null;
}

export async function updateTask(
  tx: Queryable,
  incidentId: string,
  key: string,
  patch: TaskPatch,
  actor: Actor,
  audit?: AuditActor,
): Promise<TaskRecord> {
  const incident = await getIncident(tx, incidentId, { forUpdate: true });
  if (!incident) throw new NotFoundError('incident', 'incident_not_found');
  if (incident.status === 'closed') throw new ConflictError('the incident is closed', 'incident_closed');
  const task = await getTask(tx, incidentId, key, { forUpdate: true });
  if (!task) throw new NotFoundError('task', 'task_not_found');
  if (patch.ownerId && !(await userExists(tx, patch.ownerId)))
    throw new NotFoundError('owner user', 'owner_not_found');
  const updated = await updateTaskRow(tx, incidentId, key, patch);
  const diff: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of ['state', 'ownerId', 'dueAt'] as const) {
    if (patch[field] !== undefined && !sameValue(task[field], updated[field])) {
      diff[field] = { from: task[field], to: updated[field] };
    }
  }
  if (Object.keys(diff).length > 0) {
    await addTimeline(tx, incidentId, actor, 'task.updated', { key, changes: diff });
    await recordAudit(tx, auditActorFor(actor, audit), {
      action: 'incident.task_update',
      targetType: 'incident',
      targetId: incidentId,
      before: { key, ...Object.fromEntries(Object.entries(diff).map(([field, d]) => [field, d.from])) },
      after: { key, ...Object.fromEntries(Object.entries(diff).map(([field, d]) => [field, d.to])) },
    });
  }
  return updated;
}

/** Announces one task that turned overdue (claimed by the overdue job). */
export async function announceOverdue(
  tx: Queryable,
  ctx: IncidentContext,
  task: { incidentId: string; key: string; title: string; dueAt: Date },
): Promise<string[]> {
  const incident = await getIncident(tx, task.incidentId);
  if (!incident) return [];
  await addTimeline(tx, incident.id, 'system:overdue', 'task.overdue', { key: task.key, dueAt: task.dueAt });
  return announce(tx, ctx, incident, 'incident.task_overdue', 'system:overdue', {
    title: task.title,
    dueAt: task.dueAt,
  });
}
