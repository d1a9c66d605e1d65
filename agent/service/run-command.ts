import { execFile } from 'node:child_process';
import { ServiceCommandError } from './errors.js';

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const COMMAND_TIMEOUT_MS = 60_000;

/**
 * Runs argv without a shell. A non-zero exit is returned, not thrown, because status commands
 * (systemctl is-active, launchctl print) report "not running" that way; a missing binary throws.
 */
export function runCommand(argv: readonly string[]): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new ServiceCommandError('empty command', argv, null, ''));
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: COMMAND_TIMEOUT_MS, windowsHide: true }, (error, stdout, stderr) => {
      if (error === null) {
        resolve({ exitCode: 0, stdout, stderr });
        return;
      }
      if (typeof error.code === 'number') {
        resolve({ exitCode: error.code, stdout, stderr });
        return;
      }
      const reason = error.code === 'ENOENT' ? `${file} is not installed or not on PATH` : error.message;
      reject(
        new ServiceCommandError(`cannot run ${argv.join(' ')}: ${reason}`, argv, null, `${stdout}${stderr}`),
      );
    });
  });
}

/** Runs argv and throws ServiceCommandError unless it exits 0. */
export async function runCommandChecked(argv: readonly string[]): Promise<CommandResult> {
  const result = await runCommand(argv);
  if (result.exitCode !== 0) {
    const output = `${result.stdout}${result.stderr}`.trim();
    throw new ServiceCommandError(
      `${argv.join(' ')} exited with ${result.exitCode}${output === '' ? '' : `: ${output}`}`,
      argv,
      result.exitCode,
      output,
    );
  }
  return result;
}
