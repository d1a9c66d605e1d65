// `vigil-agent service install|uninstall|status`: the service runs `vigil-agent run` with this
// invocation's settings — collector, state and log folders, and every other agent option given
// here with a value other than its default (flag or environment variable), as flags on the
// service's command line. The enroll secret never goes into the service definition (it would be
// readable there): the agent is enrolled here, once, before installing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTrue, type OptionSpec, type OptionValues, UsageError } from '../../shared/options.js';
import { type AgentConfig, type AgentOptionName, agentOptions } from '../config.js';
import { enrollAndSave } from '../enroll-command.js';
import { loadIdentity } from '../identity.js';
import { agentEnv, agentNodeArgs } from '../runtime.js';
import { warnIfInsecure } from '../tls.js';
import { installService, type ServiceSpec, serviceStatus, uninstallService } from './index.js';

/** Options that never reach the service: the secret, install-time switches, and those always set. */
const NOT_FORWARDED: ReadonlySet<AgentOptionName> = new Set([
  'enroll-secret',
  'dry-run',
  'collector',
  'state-dir',
  'log-dir',
]);

/** Paths are made absolute: the service does not run in the installer's working directory. */
function forwardedValue(name: AgentOptionName, value: string): string {
  if (name === 'ca') return resolve(value);
  if (name === 'capture-dirs')
    return value
      .split(delimiter)
      .map((dir) => dir.trim())
      .filter(Boolean)
      .map((dir) => resolve(dir))
      .join(delimiter);
  return value;
}

/** `--flag value` for every agent option given a non-default value (flags and environment alike). */
export function forwardedOptions(values: Partial<OptionValues<typeof agentOptions>>): string[] {
  const args: string[] = [];
  for (const [name, spec] of Object.entries(agentOptions) as [AgentOptionName, OptionSpec][]) {
    if (NOT_FORWARDED.has(name)) continue;
    const value = values[name];
    if (value === undefined || value === '' || value === spec.default) continue;
    if (spec.type === 'boolean') {
      if (isTrue(value)) args.push(`--${name}`);
      continue;
    }
    args.push(`--${name}`, forwardedValue(name, value));
  }
  return args;
}

export function serviceSpecFor(
  config: AgentConfig,
  values: Partial<OptionValues<typeof agentOptions>>,
): ServiceSpec {
  const logDir = config.logDir ?? join(config.stateDir, 'logs');
  const args = [
    'run',
    '--collector',
    config.collectorUrl,
    '--state-dir',
    config.stateDir,
    '--log-dir',
    logDir,
    ...forwardedOptions(values),
  ];
  return {
    name: 'vigil-agent',
    description: 'Vigil endpoint agent',
    nodePath: process.execPath,
    nodeArgs: [...agentNodeArgs],
    env: { ...agentEnv },
    scriptPath: fileURLToPath(new URL('../cli.js', import.meta.url)),
    args,
    stateDir: config.stateDir,
    logDir,
  };
}

export async function serviceCommand(
  verb: string | undefined,
  config: AgentConfig,
  values: Partial<OptionValues<typeof agentOptions>>,
): Promise<void> {
  const spec = serviceSpecFor(config, values);
  const options = { dryRun: config.dryRun };
  switch (verb) {
    case 'install': {
      warnIfInsecure(config);
      if (!config.dryRun && !loadIdentity(config.stateDir)) {
        await enrollAndSave(config);
      }
      if (config.dryRun) {
        // A preview writes nothing on the machine: render into a scratch root and show it.
        const scratch = mkdtempSync(join(tmpdir(), 'vigil-service-'));
        try {
          const change = await installService(spec, process.platform, { dryRun: true, root: scratch });
          for (const file of change.files) {
            process.stdout.write(`--- ${file.slice(scratch.length)}\n${readFileSync(file, 'utf8')}\n`);
          }
          for (const command of change.commands) process.stdout.write(`would run: ${command.join(' ')}\n`);
        } finally {
          rmSync(scratch, { recursive: true, force: true });
        }
        return;
      }
      const change = await installService(spec, process.platform, options);
      process.stdout.write(`wrote ${change.files.join(', ')}\n`);
      for (const command of change.commands) process.stdout.write(`ran: ${command.join(' ')}\n`);
      return;
    }
    case 'uninstall': {
      const change = await uninstallService(spec, process.platform, options);
      process.stdout.write(change.files.length ? `removed ${change.files.join(', ')}\n` : 'not installed\n');
      return;
    }
    case 'status': {
      const status = await serviceStatus(spec, process.platform, options);
      process.stdout.write(
        `${status.installed ? `installed (${status.active ?? 'unknown'})` : 'not installed'}: ${status.detail}\n`,
      );
      if (!status.installed) process.exitCode = 3;
      return;
    }
    default:
      throw new UsageError('service takes install, uninstall or status');
  }
}
