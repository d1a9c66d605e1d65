// Alert triage: each change runs in one transaction with its audit record.
import type { AuditActor } from '../audit/repository.js';
import { recordAudit } from '../audit/repository.js';
import type { Db, Queryable } from '../db/db.js';
import { type AllowlistEntry, addAllowlistEntry, UNEXPECTED_PROCESS_RULE } from '../detection/baseline.js';
import { NotFoundError } from '../errors.js';
import { CollectorAlertError, NotUnexpectedProcessError } from './errors.js';
import { type AlertException, type ExceptionScope, insertException } from './exceptions.js';
import {
  type Alert,
  type AlertComment,
  type AlertStatus,
  addComment,
  alertEvidence,
  assignAlert,
  type EvidenceEvent,
  getAlert,
  transitionAlert,
} from './repository.js';

async function lockedAlert(tx: Queryable, id: string): Promise<Alert> {
  const alert = await getAlert(tx, id, true);
  if (!alert) throw new NotFoundError('alert');
  return alert;
}

/** One alert with the events behind it; the read is audited (evidence may hold personal data). */
export function readAlertEvidence(
  db: Db,
  actor: AuditActor,
  id: string,
): Promise<Alert & { events: EvidenceEvent[]; eventCount: number }> {
  return db.transaction(async (tx) => {
    const alert = await getAlert(tx, id);
    if (!alert) throw new NotFoundError('alert');
    const { events, total } = await alertEvidence(tx, id);
    await recordAudit(tx, actor, {
      action: 'alert.evidence_read',
      targetType: 'alert',
      targetId: id,
      after: { eventIds: events.map((e) => e.id) },
    });
    return { ...alert, events, eventCount: total };
  });
}

async function transitionIn(
  tx: Queryable,
  actor: AuditActor,
  id: string,
  to: AlertStatus,
  reason?: string,
): Promise<Alert> {
  const before = await lockedAlert(tx, id);
  const after = await transitionAlert(tx, before, to, reason, actor.userId);
  await recordAudit(tx, actor, {
    action: 'alert.transition',
    targetType: 'alert',
    targetId: id,
    before: { status: before.status, statusReason: before.statusReason },
    after: { status: after.status, statusReason: after.statusReason },
  });
  return after;
}

export const transition = (
  db: Db,
  actor: AuditActor,
  id: string,
  to: AlertStatus,
  reason?: string,
): Promise<Alert> => db.transaction((tx) => transitionIn(tx, actor, id, to, reason));

async function assignIn(tx: Queryable, actor: AuditActor, id: string, userId: string | null): Promise<Alert> {
  const before = await lockedAlert(tx, id);
  const after = await assignAlert(tx, id, userId);
  await recordAudit(tx, actor, {
    action: 'alert.assign',
    targetType: 'alert',
    targetId: id,
    before: { assignee: before.assignee },
    after: { assignee: after.assignee },
  });
  return after;
}

export const assign = (db: Db, actor: AuditActor, id: string, userId: string | null): Promise<Alert> =>
  db.transaction((tx) => assignIn(tx, actor, id, userId));

export type BulkAction = { action: 'acknowledge' } | { action: 'assign'; userId: string | null };

export interface BulkOutcome {
  id: string;
  ok: boolean;
  error?: { code: string; message: string };
}

/**
 * Applies one action to many alerts in one transaction. An alert the action does not fit
 * (already acknowledged, unknown) is reported and skipped; the others change.
 */
export function bulk(db: Db, actor: AuditActor, ids: string[], action: BulkAction): Promise<BulkOutcome[]> {
  return db.transaction(async (tx) => {
    const outcomes: BulkOutcome[] = [];
    for (const id of [...new Set(ids)]) {
      // A savepoint per alert keeps one refusal from undoing the others.
      await tx.query('SAVEPOINT bulk_item');
      try {
        if (action.action === 'acknowledge') await transitionIn(tx, actor, id, 'acknowledged');
        else await assignIn(tx, actor, id, action.userId);
        await tx.query('RELEASE SAVEPOINT bulk_item');
        outcomes.push({ id, ok: true });
      } catch (err) {
        await tx.query('ROLLBACK TO SAVEPOINT bulk_item');
        const e = err as { code?: string; message: string; statusCode?: number };
        if (!e.statusCode || e.statusCode >= 500) throw err;
        outcomes.push({ id, ok: false, error: { code: e.code ?? 'bad_request', message: e.message } });
      }
    }
    return outcomes;
  });
}

export function comment(
  db: Db,
  actor: AuditActor & { userId: string },
  alertId: string,
  text: string,
): Promise<AlertComment> {
  return db.transaction(async (tx) => {
    await lockedAlert(tx, alertId);
    const created = await addComment(tx, alertId, actor.userId, text);
    await recordAudit(tx, actor, {
      action: 'alert.comment',
      targetType: 'alert',
      targetId: alertId,
      after: created,
    });
    return created;
  });
}

export interface ExceptionRequest {
  scope: ExceptionScope;
  fields: Record<string, string>;
  reason: string;
  expiresAt: string | null;
}

/** An exception for the alert's rule, scoped to the fleet, the alert's group or its agent. */
export function createExceptionFromAlert(
  db: Db,
  actor: AuditActor & { userId: string },
  alertId: string,
  request: ExceptionRequest,
): Promise<AlertException> {
  return db.transaction(async (tx) => {
    const alert = await lockedAlert(tx, alertId);
    // Exceptions filter detections on workstations; nothing would apply one to a collector alert.
    if (alert.agentId === null) throw new CollectorAlertError('exception');
    const created = await insertException(tx, {
      ruleId: alert.ruleId,
      scope: request.scope,
      groupId: request.scope === 'group' ? alert.groupId : null,
      agentId: request.scope === 'agent' ? alert.agentId : null,
      fields: request.fields,
      reason: request.reason,
      sourceAlertId: alert.id,
      createdBy: actor.userId,
      expiresAt: request.expiresAt,
    });
    await recordAudit(tx, actor, {
      action: 'exception.create',
      targetType: 'exception',
      targetId: created.id,
      after: created,
    });
    return created;
  });
}

/** Approves an unexpected process: its executable joins the group's allowlist, the alert is resolved. */
export function approveProcess(
  db: Db,
  actor: AuditActor,
  alertId: string,
  reason: string,
): Promise<{ alert: Alert; allowlistEntry: AllowlistEntry }> {
  return db.transaction(async (tx) => {
    const alert = await lockedAlert(tx, alertId);
    if (alert.ruleId !== UNEXPECTED_PROCESS_RULE.id || alert.groupId === null)
      throw new NotUnexpectedProcessError();
    const exe = typeof alert.evidence.exe === 'string' ? alert.evidence.exe : undefined;
    const sha256 = typeof alert.evidence.sha256 === 'string' ? alert.evidence.sha256 : null;
    if (!exe) throw new NotUnexpectedProcessError();
    const entry = await addAllowlistEntry(tx, {
      groupId: alert.groupId,
      // The exact path; with the sha256 (when the agent sent one) it pins this very binary.
      pathGlob: exe,
      name: null,
      sha256,
      signer: null,
      reason,
      sourceAlertId: alert.id,
      createdBy: actor.userId,
    });
    await recordAudit(tx, actor, {
      action: 'allowlist.add',
      targetType: 'allowlist',
      targetId: entry.id,
      after: entry,
    });
    const closed = await transitionIn(tx, actor, alertId, 'resolved', `approved: ${reason}`);
    return { alert: closed, allowlistEntry: entry };
  });
}
