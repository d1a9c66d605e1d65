import path from 'node:path';
import { ServiceSpecError } from './errors.js';

/** Everything a service manager needs to run the agent. Paths are absolute on the target machine. */
export interface ServiceSpec {
  /** Service / unit name, e.g. 'vigil-agent'. */
  name: string;
  description: string;
  /** Absolute path of the node binary. */
  nodePath: string;
  /** Node options placed before the script, e.g. ['--lite-mode'] (see agent/runtime.ts). */
  nodeArgs?: string[];
  /** Absolute path of dist/agent/cli.js. */
  scriptPath: string;
  /** Arguments after the script, e.g. ['run', '--collector', URL, '--state-dir', DIR]. */
  args: string[];
  stateDir: string;
  logDir: string;
  env?: Record<string, string>;
  /** Account to run as; the default (root / LocalSystem) is what the sensors need. */
  user?: string;
  /** systemd only: optional file of KEY=value lines for site configuration (missing file is fine). */
  environmentFile?: string;
}

export type ServicePlatform = 'linux' | 'darwin' | 'win32';

// A unit name, a launchd label suffix and a WinSW id must all accept it.
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Service files are line-based (systemd) or XML 1.0, neither can carry control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

// Windows counts '\\dir' as absolute, but it is relative to the current drive: demand a drive or UNC.
const WINDOWS_FULL_PATH = /^(?:[A-Za-z]:[\\/]|\\\\[^\\]+\\)/;

function isAbsoluteFor(platform: ServicePlatform, value: string): boolean {
  return platform === 'win32' ? WINDOWS_FULL_PATH.test(value) : path.posix.isAbsolute(value);
}

function checkText(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ServiceSpecError(`${field} must be a string`);
  if (CONTROL_CHARACTERS.test(value)) {
    throw new ServiceSpecError(`${field} contains a control character (newline, tab, NUL...)`);
  }
  return value;
}

function checkPath(platform: ServicePlatform, field: string, value: unknown): void {
  const text = checkText(field, value);
  if (!isAbsoluteFor(platform, text))
    throw new ServiceSpecError(`${field} must be an absolute path: ${text}`);
}

/** Throws ServiceSpecError on the first problem; returns nothing so callers keep their own object. */
export function validateServiceSpec(spec: ServiceSpec, platform: ServicePlatform): void {
  const name = checkText('name', spec.name);
  if (!SERVICE_NAME.test(name)) {
    throw new ServiceSpecError(
      `name must be letters, digits, '.', '_' or '-' (max 64): ${JSON.stringify(name)}`,
    );
  }
  if (checkText('description', spec.description).trim() === '') {
    throw new ServiceSpecError('description must not be empty');
  }
  checkPath(platform, 'nodePath', spec.nodePath);
  checkPath(platform, 'scriptPath', spec.scriptPath);
  checkPath(platform, 'stateDir', spec.stateDir);
  checkPath(platform, 'logDir', spec.logDir);
  if (!Array.isArray(spec.args)) throw new ServiceSpecError('args must be an array of strings');
  for (const [index, arg] of (spec.nodeArgs ?? []).entries()) {
    if (!checkText(`nodeArgs[${index}]`, arg).startsWith('-'))
      throw new ServiceSpecError(`nodeArgs[${index}] must be a Node option (start with '-'): ${arg}`);
  }
  for (const [index, arg] of spec.args.entries()) checkText(`args[${index}]`, arg);
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    if (!ENV_NAME.test(key))
      throw new ServiceSpecError(`environment variable name is invalid: ${JSON.stringify(key)}`);
    checkText(`env.${key}`, value);
  }
  if (spec.user !== undefined && checkText('user', spec.user).trim() === '') {
    throw new ServiceSpecError('user must not be empty when given');
  }
  if (spec.environmentFile !== undefined) checkPath(platform, 'environmentFile', spec.environmentFile);
}

/** launchd label for a service name: 'vigil-agent' -> 'com.vigil.agent'. */
export function launchdLabel(name: string): string {
  return `com.vigil.${name.replace(/^vigil-/, '')}`;
}
