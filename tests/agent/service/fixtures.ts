import { spawnSync } from 'node:child_process';
import type { ServiceSpec } from '../../../agent/service/spec.js';

/** Values a careless generator would break: spaces, quotes, $, %, backslashes, XML specials, non-ASCII. */
export const TRICKY_COLLECTOR = 'ws://127.0.0.1:8443/ingest?a=1&b="two" $HOME %h \\x <tag> café';

export function linuxSpec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name: 'vigil-agent',
    description: 'Vigil endpoint agent (100% on duty)',
    nodePath: '/usr/bin/node',
    scriptPath: '/opt/vigil/dist/agent/cli.js',
    args: ['run', '--collector', TRICKY_COLLECTOR, '--state-dir', '/var/lib/vigil agent'],
    stateDir: '/var/lib/vigil agent',
    logDir: '/var/log/vigil',
    env: { NODE_ENV: 'production', VIGIL_TAG: 'site "A" & $B 50%' },
    ...overrides,
  };
}

export function windowsSpec(overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name: 'vigil-agent',
    description: 'Vigil endpoint agent & friends',
    nodePath: 'C:\\Program Files\\nodejs\\node.exe',
    scriptPath: 'C:\\Program Files\\Vigil\\dist\\agent\\cli.js',
    args: [
      'run',
      '--collector',
      'wss://127.0.0.1:8443/ingest?a=1&b="two" <x>',
      '--state-dir',
      'C:\\ProgramData\\Vigil',
    ],
    stateDir: 'C:\\ProgramData\\Vigil\\state',
    logDir: 'C:\\ProgramData\\Vigil\\logs',
    env: { NODE_ENV: 'production', VIGIL_TAG: 'site "A" & <B>' },
    ...overrides,
  };
}

/**
 * Whether a command-line tool can be run. Missing outside CI: the caller skips with a message;
 * in CI a missing tool must fail the run, so this throws.
 */
export function toolAvailable(command: string, args: string[], installHint: string): boolean {
  const probe = spawnSync(command, args, { encoding: 'utf8' });
  if (probe.error === undefined && probe.status === 0) return true;
  if (process.env.CI) throw new Error(`${command} is required in CI (${installHint})`);
  console.warn(`skipping: ${command} is not available here (${installHint})`);
  return false;
}
