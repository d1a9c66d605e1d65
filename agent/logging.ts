import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import pino, { type LevelWithSilent, type Logger } from 'pino';

export interface AgentLoggerOptions {
  /** Directory of the rotated JSON log files; omitted when the agent only logs to stdout. */
  logDir?: string;
  level: LevelWithSilent;
  /** Also (or only) write JSON lines to stdout: `vigil-agent run` in a terminal, or with no logDir (see logsToStdout). */
  foreground: boolean;
  /** pino-roll size: a number of MB or a string with a k/m/g unit. */
  maxFileSize?: string | number;
  /** Rotated files kept besides the active one. */
  maxFiles?: number;
}

/**
 * stdout gets the log only when it is the sole destination or someone watches it (a terminal):
 * under a service manager with --log-dir, stdout would be a second copy of every line (journal,
 * launchd.out.log, WinSW's wrapper log) beside the rotated file.
 */
export function logsToStdout(logDir: string | undefined, stdoutIsTty: boolean): boolean {
  return logDir === undefined || stdoutIsTty;
}

/** Neither a log directory nor stdout was asked for. */
export class LoggerConfigError extends Error {
  readonly code = 'LOGGER_CONFIG_INVALID';
  override name = 'LoggerConfigError';
}

export const DEFAULT_LOG_FILE_SIZE = '10m';
export const DEFAULT_LOG_FILES = 5;
/** pino-roll appends a number before the extension: agent.1.log, agent.2.log... */
export const LOG_FILE_BASE_NAME = 'agent.log';

// Resolved here so the transport worker finds pino-roll whatever the caller's directory.
const pinoRollPath = createRequire(import.meta.url).resolve('pino-roll');

interface LoggerLifecycle {
  ready: Promise<void>;
  close(): Promise<void>;
}

const lifecycles = new WeakMap<Logger, LoggerLifecycle>();

/**
 * JSON logger of the agent. With logDir, lines go through a pino-roll worker thread into
 * <logDir>/agent.N.log, rotated by size; old files beyond maxFiles are deleted, including those of
 * earlier runs (the watchdog restarts the agent, each run must not start a fresh series).
 */
export function createAgentLogger(options: AgentLoggerOptions): Logger {
  const { logDir, level, foreground } = options;
  const maxFiles = options.maxFiles ?? DEFAULT_LOG_FILES;
  if (logDir === undefined && !foreground) {
    throw new LoggerConfigError('the agent logger needs a log directory, stdout (foreground), or both');
  }
  if (logDir !== undefined && !path.isAbsolute(logDir)) {
    throw new LoggerConfigError(`logDir must be an absolute path: ${logDir}`);
  }
  if (!Number.isInteger(maxFiles) || maxFiles < 1) {
    throw new LoggerConfigError(`maxFiles must be a positive integer: ${maxFiles}`);
  }
  const base = { name: 'vigil-agent' };
  if (logDir === undefined) {
    // Synchronous stdout: nothing is lost when the agent exits right after logging.
    const stdout = pino.destination({ dest: 1, sync: true });
    const logger = pino({ level, base }, stdout);
    // stdout is not ours to close.
    lifecycles.set(logger, { ready: Promise.resolve(), close: async () => stdout.flushSync() });
    return logger;
  }
  const rollOptions = {
    file: path.join(logDir, LOG_FILE_BASE_NAME),
    size: options.maxFileSize ?? DEFAULT_LOG_FILE_SIZE,
    limit: { count: maxFiles, removeOtherLogFiles: true },
    mkdir: true,
  };
  const transport = pino.transport<Record<string, unknown>>({
    targets: [
      { target: pinoRollPath, level, options: rollOptions },
      ...(foreground ? [{ target: 'pino/file', level, options: { destination: 1 } }] : []),
    ],
  });
  const logger = pino({ level, base }, transport);
  const ready = once(transport, 'ready').then(() => undefined);
  // Lines logged before the worker is up are buffered, not lost; callers may ignore `ready`.
  ready.catch(() => {});
  lifecycles.set(logger, {
    ready,
    close: async () => {
      // pino unrefs the worker when it becomes ready; ref it after that, or the process could exit
      // (unsettled await) before the worker has written and closed the file.
      await ready.catch(() => {});
      const closed = once(transport, 'close');
      (transport as typeof transport & { ref(): void }).ref();
      transport.end();
      await closed;
    },
  });
  return logger;
}

/** Resolves once the file transport's worker thread runs (it can take most of a second to start). */
export async function agentLoggerReady(logger: Logger): Promise<void> {
  await lifecycles.get(logger)?.ready;
}

/** Flushes and closes the logger's destination (waits for the transport worker to finish writing). */
export async function closeAgentLogger(logger: Logger): Promise<void> {
  const lifecycle = lifecycles.get(logger);
  if (lifecycle === undefined) return;
  lifecycles.delete(logger);
  await lifecycle.close();
}
