// `vigil-agent service install|uninstall|status`: the service runs `vigil-agent run` with this
// invocation's collector, state and log settings. The enroll secret never goes into the service
// definition (it would be readable there): the agent is enrolled here, once, before installing.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../shared/options.js';
import type { AgentConfig } from '../config.js';
import { enrollAndSave } from '../enroll-command.js';
import { loadIdentity } from '../identity.js';
import { agentEnv, agentNodeArgs } from '../runtime.js';
import { installService, type ServiceSpec, serviceStatus, uninstallService } from './index.js';

export function serviceSpecFor(config: AgentConfig): ServiceSpec {
  const logDir = config.logDir ?? join(config.stateDir, 'logs');
  const args = [
    'run',
    '--collector',
    config.collectorUrl,
    '--state-dir',
    config.stateDir,
    '--log-dir',
    logDir,
  ];
  if (config.caFile) args.push('--ca', resolve(config.caFile));
  if (config.insecure) args.push('--insecure');
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
  _argv: string[],
): Promise<void> {
  const spec = serviceSpecFor(config);
  const options = { dryRun: config.dryRun };
  switch (verb) {
    case 'install': {
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
