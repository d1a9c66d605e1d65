// Runs a system tool once and returns its stdout. Several macOS tools exit 1 for "nothing
// matched" (ps -p with only dead pids, lsof with no holders); callers list those codes as fine.
// LC_ALL=C keeps dates (ps lstart) and messages in the formats the parsers expect.
import { execFile } from 'node:child_process';

export class ToolRunError extends Error {
  readonly code = 'tool_run_failed';
  constructor(
    readonly tool: string,
    message: string,
  ) {
    super(`${tool}: ${message}`);
    this.name = 'ToolRunError';
  }
}

export type RunTool = (file: string, args: string[], quietExitCodes?: number[]) => Promise<string>;

const maxBuffer = 64 * 1024 * 1024;
const timeoutMs = 15_000;

export const runTool: RunTool = (file, args, quietExitCodes = []) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { maxBuffer, timeout: timeoutMs, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const exitCode = typeof error.code === 'number' ? error.code : undefined;
        if (exitCode !== undefined && quietExitCodes.includes(exitCode)) return resolve(stdout);
        const detail = stderr.trim().split('\n')[0] || error.message;
        reject(new ToolRunError(file, detail));
      },
    );
  });
