// One error class per kind, each with a stable `code` that API clients and logs can rely on.
// Route handlers throw these; the app's error handler turns them into `{ error: { code, message } }`.

export class VigilError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly details?: unknown;
  constructor(code: string, statusCode: number, message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.statusCode = statusCode;
    this.details = details;
  }
}

export class BadRequestError extends VigilError {
  constructor(message: string, details?: unknown, code = 'bad_request') {
    super(code, 400, message, details);
  }
}

export class UnauthorizedError extends VigilError {
  constructor(message = 'missing or invalid credentials', code = 'unauthorized') {
    super(code, 401, message);
  }
}

export class ForbiddenError extends VigilError {
  constructor(message = 'your role does not allow this', code = 'forbidden') {
    super(code, 403, message);
  }
}

export class NotFoundError extends VigilError {
  constructor(what: string, code = 'not_found') {
    super(code, 404, `${what} not found`);
  }
}

export class ConflictError extends VigilError {
  constructor(message: string, code = 'conflict') {
    super(code, 409, message);
  }
}

/** Configuration that cannot work; raised at start, before anything listens. */
export class ConfigError extends VigilError {
  constructor(message: string, code = 'config_invalid') {
    super(code, 500, message);
  }
}

/** The embedded database directory is held by another process. */
export class DataDirLockedError extends VigilError {
  constructor(dir: string) {
    super(
      'data_dir_locked',
      500,
      `the data directory ${dir} is in use by another vigil-collector process; ` +
        'two processes on one embedded database lose data. Stop the other process, or point VIGIL_DATA_DIR elsewhere, or set DATABASE_URL to use PostgreSQL.',
    );
  }
}
