import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  agentLoggerReady,
  closeAgentLogger,
  createAgentLogger,
  LoggerConfigError,
} from '../../agent/logging.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
let logDir: string;

beforeEach(() => {
  logDir = path.join(mkdtempSync(path.join(tmpdir(), 'vigil-logging-')), 'logs');
});

afterEach(() => {
  rmSync(path.dirname(logDir), { recursive: true, force: true });
});

function fileNumber(name: string): number {
  return Number(name.split('.')[1]);
}

function logFiles(): string[] {
  // The transport worker may report ready before pino-roll has created the directory.
  if (!existsSync(logDir)) return [];
  return readdirSync(logDir)
    .filter((name) => /^agent\.\d+\.log$/.test(name))
    .sort((a, b) => fileNumber(a) - fileNumber(b));
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function fileLines(file: string): Record<string, unknown>[] {
  return jsonLines(readFileSync(path.join(logDir, file), 'utf8'));
}

function highestFileNumber(): number {
  return Math.max(0, ...logFiles().map(fileNumber));
}

/** Polls until the condition holds: rotation happens in the transport's worker thread. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('createAgentLogger', { timeout: 60_000 }, () => {
  it('writes JSON lines to agent.N.log in a directory it creates', async () => {
    const logger = createAgentLogger({ logDir, level: 'info', foreground: false });
    logger.debug('below the level');
    logger.info({ sensor: 'process' }, 'agent started');
    await closeAgentLogger(logger);
    expect(logFiles()).toEqual(['agent.1.log']);
    const lines = fileLines('agent.1.log');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'agent started',
      sensor: 'process',
      name: 'vigil-agent',
    });
  });

  it('rotates by size and keeps only maxFiles files', async () => {
    const logger = createAgentLogger({
      logDir,
      level: 'info',
      foreground: false,
      maxFileSize: '2k',
      maxFiles: 3,
    });
    await agentLoggerReady(logger);
    await waitFor(() => highestFileNumber() >= 1, 'the first log file');
    const padding = 'x'.repeat(200);
    // Ten bursts of ~3 KB through a 2 KB limit; each must open a new file.
    for (let burst = 0; burst < 10; burst += 1) {
      const before = highestFileNumber();
      for (let line = 0; line < 10; line += 1) logger.info({ index: burst * 10 + line, padding }, 'filler');
      await waitFor(() => highestFileNumber() > before, `rotation after burst ${burst}`);
    }
    logger.info({ index: 100 }, 'last');
    await waitFor(() => logFiles().length <= 4, 'old files removed');
    await closeAgentLogger(logger);
    const files = logFiles();
    expect(highestFileNumber()).toBeGreaterThanOrEqual(11);
    // At most maxFiles rotated files besides the active one.
    expect(files.length).toBeLessThanOrEqual(4);
    for (const file of files.slice(0, -1)) {
      expect(statSync(path.join(logDir, file)).size).toBeGreaterThanOrEqual(2048);
    }
    expect(fileLines(files.at(-1)!).at(-1)).toMatchObject({ index: 100, msg: 'last' });
  });

  it('continues the numbering of an earlier run and prunes its files', async () => {
    const write = async (run: string) => {
      const logger = createAgentLogger({
        logDir,
        level: 'info',
        foreground: false,
        maxFileSize: '1k',
        maxFiles: 2,
      });
      await agentLoggerReady(logger);
      const opened = highestFileNumber();
      // A new run opens a file only once pino-roll has looked at the directory.
      await waitFor(() => highestFileNumber() >= Math.max(opened, 1), `${run}: its log file`);
      for (let burst = 0; burst < 4; burst += 1) {
        const before = highestFileNumber();
        for (let line = 0; line < 10; line += 1) logger.info({ line, padding: 'y'.repeat(100) }, run);
        await waitFor(() => highestFileNumber() > before, `${run}: rotation after burst ${burst}`);
      }
      await waitFor(() => logFiles().length <= 3, `${run}: old files removed`);
      await closeAgentLogger(logger);
    };
    await write('first run');
    const highestBefore = highestFileNumber();
    expect(highestBefore).toBeGreaterThanOrEqual(5);
    await write('second run');
    const numbers = logFiles().map(fileNumber);
    // Numbering went on from the first run, and the first run's files were pruned too.
    expect(Math.min(...numbers)).toBeGreaterThanOrEqual(highestBefore);
    expect(Math.max(...numbers)).toBeGreaterThanOrEqual(highestBefore + 4);
    expect(numbers.length).toBeLessThanOrEqual(3);
  });

  it('refuses a logger with nowhere to write, a relative directory or no files to keep', () => {
    expect(() => createAgentLogger({ level: 'info', foreground: false })).toThrow(LoggerConfigError);
    expect(() => createAgentLogger({ logDir: 'logs', level: 'info', foreground: false })).toThrow(/absolute/);
    expect(() => createAgentLogger({ logDir, level: 'info', foreground: false, maxFiles: 0 })).toThrow(
      /maxFiles/,
    );
  });
});

describe('agent logger in a real process', { timeout: 60_000 }, () => {
  let workDir: string;
  let loggingModule: string;

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'vigil-logging-child-'));
    // The child resolves pino and pino-roll through this link, as the built agent does from dist/.
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(workDir, 'node_modules'), 'dir');
    loggingModule = path.join(workDir, 'logging.mjs');
    await build({
      input: path.join(repoRoot, 'agent/logging.ts'),
      platform: 'node',
      external: ['pino'],
      logLevel: 'silent',
      output: { file: loggingModule, format: 'esm' },
      write: true,
    });
  });

  afterAll(() => {
    rmSync(workDir, { recursive: true, force: true });
  });

  function runChild(body: string): { status: number | null; stdout: string; stderr: string } {
    const script = path.join(workDir, `child-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(
      script,
      `import { agentLoggerReady, closeAgentLogger, createAgentLogger } from ${JSON.stringify(loggingModule)};\n${body}\n`,
    );
    const result = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('writes to stdout and the log file in the foreground', () => {
    const result =
      runChild(`const logger = createAgentLogger({ logDir: ${JSON.stringify(logDir)}, level: 'info', foreground: true });
logger.info({ where: 'both' }, 'hello');
await closeAgentLogger(logger);`);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(jsonLines(result.stdout)).toEqual([expect.objectContaining({ msg: 'hello', where: 'both' })]);
    expect(fileLines('agent.1.log')).toEqual([expect.objectContaining({ msg: 'hello', where: 'both' })]);
  });

  it('writes only to stdout without a log directory', () => {
    const result = runChild(`const logger = createAgentLogger({ level: 'warn', foreground: true });
logger.info('dropped');
logger.warn('kept');`);
    expect(result.status).toBe(0);
    expect(jsonLines(result.stdout)).toEqual([expect.objectContaining({ msg: 'kept', level: 40 })]);
  });

  it('keeps the last line when the agent exits at once (watchdog exit)', () => {
    const result =
      runChild(`const logger = createAgentLogger({ logDir: ${JSON.stringify(logDir)}, level: 'info', foreground: false });
await agentLoggerReady(logger);
logger.error({ kind: 'memory' }, 'watchdog limit exceeded');
process.exit(75);`);
    expect(result.status).toBe(75);
    expect(fileLines('agent.1.log')).toEqual([expect.objectContaining({ msg: 'watchdog limit exceeded' })]);
  });
});
