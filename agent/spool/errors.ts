// One error class per failure kind, each with a stable `code` the agent can branch on.

export abstract class SpoolError extends Error {
  abstract readonly code: string;
}

/** An option passed to `Spool.open` is out of range or malformed. */
export class SpoolOptionsError extends SpoolError {
  readonly code = 'spool_bad_options';
}

/** `append` got an event that does not match the wire schema; nothing of that call was stored. */
export class SpoolInvalidEventError extends SpoolError {
  readonly code = 'spool_invalid_event';
}

/** `append` got an event whose JSON would not fit in one frame; nothing of that call was stored. */
export class SpoolEventTooLargeError extends SpoolError {
  readonly code = 'spool_event_too_large';
}

/** `takeBatch` limits are not positive integers. */
export class SpoolArgumentError extends SpoolError {
  readonly code = 'spool_bad_argument';
}

/** The spool was used after `close()`. */
export class SpoolClosedError extends SpoolError {
  readonly code = 'spool_closed';
}

/** The database file failed its integrity check; handled internally by moving the file aside. */
export class SpoolCorruptError extends SpoolError {
  readonly code = 'spool_corrupt';
}

/** SQLite failed for a reason other than corruption (disk full, I/O error, permissions). */
export class SpoolStorageError extends SpoolError {
  readonly code = 'spool_storage';
}
