// Errors of alert triage, each with a stable code.
import { BadRequestError, ConflictError } from '../errors.js';

export class IllegalTransitionError extends ConflictError {
  constructor(from: string, to: string) {
    super(`an alert cannot go from ${from} to ${to}`, 'illegal_transition');
  }
}

export class ReasonRequiredError extends BadRequestError {
  constructor(status: string) {
    super(`closing an alert as ${status} needs a reason`, undefined, 'reason_required');
  }
}

export class UnknownAssigneeError extends BadRequestError {
  constructor(userId: string) {
    super(`no enabled user ${userId} to assign`, undefined, 'assignee_unknown');
  }
}

export class BadCursorError extends BadRequestError {
  constructor() {
    super('invalid cursor (it belongs to another sort order or is damaged)', undefined, 'bad_cursor');
  }
}

export class NotUnexpectedProcessError extends BadRequestError {
  constructor() {
    super(
      'only unexpected-process alerts can be approved into the allowlist',
      undefined,
      'not_unexpected_process',
    );
  }
}

export class CollectorAlertError extends BadRequestError {
  constructor(what: string) {
    super(
      `this alert was raised by the collector and concerns no workstation: it takes no ${what}`,
      undefined,
      'collector_alert',
    );
  }
}
