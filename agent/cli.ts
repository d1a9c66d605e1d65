#!/usr/bin/env node
// vigil-agent: `run` (foreground or under a service manager), `enroll`, `service ...`.
import type { Logger } from 'pino';
import { formatHelp, readOptions, UsageError } from '../shared/options.js';
import { Agent } from './agent.js';
import { type AgentConfig, agentConfigFrom, agentOptions, optionsGiven } from './config.js';
import { enrollAndSave } from './enroll-command.js';
import { ExecutableHasher } from './hash.js';
import { AgentRevokedError, EnrollError, revokedExitCode } from './identity.js';
import { closeAgentLogger, createAgentLogger, logsToStdout } from './logging.js';
import { platformReaders } from './platform/index.js';
import { createCaptureSensor } from './sensors/capture.js';
import { createCaptureFileSensor } from './sensors/capture-files.js';
import { createProcessSensor } from './sensors/process.js';
import type { Sensor } from './sensors/sensor.js';
import { createWebSensor } from './sensors/web.js';
import { AGENT_VERSION } from './version.js';
import { startWatchdog, WATCHDOG_EXIT_CODE } from './watchdog.js';

const usage = `Usage:
  vigil-agent run [options]         enroll if needed, then watch this workstation and report
  vigil-agent enroll [options]      enroll again (replaces the stored identity)
  vigil-agent service install|uninstall|status [options]
                                    register the agent with systemd / launchd / Windows services
  vigil-agent --version`;

async function buildSensors(config: AgentConfig): Promise<Sensor[]> {
  const readers = await platformReaders();
  const hasher = new ExecutableHasher();
  return [
    createProcessSensor(readers.processes, { hasher }),
    createCaptureSensor(readers.capture, hasher),
    createCaptureFileSensor({
      extraFolders: config.captureDirs,
      // The agent's own spool and logs change all the time: watching them would wake it for itself.
      excludedFolders: [config.stateDir, ...(config.logDir ? [config.logDir] : [])],
    }),
    createWebSensor(),
  ];
}

/**
 * Last resort: an error nothing handled leaves the agent in an unknown state. Log it once and exit
 * non-zero, so the service manager restarts a fresh process (spooled events are safe on disk).
 */
function exitOnUnhandled(log: Logger): void {
  let handled = false;
  const fatal = (kind: string) => (err: unknown) => {
    if (handled) return;
    handled = true;
    log.fatal({ err }, `${kind}; exiting so the service manager restarts the agent`);
    process.stderr.write(`vigil-agent: ${kind}: ${(err as Error)?.stack ?? String(err)}\n`);
    // The logger's worker may not finish: exit regardless after a moment.
    setTimeout(() => process.exit(70), 2000).unref();
    void closeAgentLogger(log).finally(() => process.exit(70));
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));
}

async function run(config: AgentConfig): Promise<void> {
  const log = createAgentLogger({
    logDir: config.logDir,
    level: config.logLevel as 'info',
    foreground: logsToStdout(config.logDir, process.stdout.isTTY === true),
  });
  exitOnUnhandled(log);
  let stopWatchdog = () => {};
  const agent = new Agent({
    config,
    log,
    sensors: () => buildSensors(config),
    onSelfStop: (exitCode) => {
      stopWatchdog();
      void closeAgentLogger(log).finally(() => process.exit(exitCode));
    },
  });
  let started = false;
  const stop = async (signal: string) => {
    stopWatchdog();
    log.info({ signal }, 'stopping');
    // Before start finished (still waiting to enroll, say) there is nothing to stop cleanly.
    if (started) await agent.stop(`signal ${signal}`);
    await closeAgentLogger(log);
    process.exit(process.exitCode ?? 0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  try {
    await agent.start();
    started = true;
  } catch (err) {
    if (err instanceof AgentRevokedError) log.error({ reason: err.marker.reason }, err.message);
    await closeAgentLogger(log);
    throw err;
  }
  stopWatchdog = startWatchdog({
    maxRssBytes: config.maxRssBytes,
    maxCpuPercent: config.maxCpuPercent,
    sustainedMs: 60_000,
    intervalMs: 5_000,
    onExceeded: (reason) => {
      log.error(reason, 'watchdog limit exceeded; restarting');
      agent.emit(
        'agent.error',
        { code: `watchdog_${reason.kind}`, message: `${reason.kind} ${reason.value} over ${reason.limit}` },
        { live: true },
      );
      // A starved agent may not manage a clean stop: exit regardless after a grace period.
      setTimeout(() => process.exit(WATCHDOG_EXIT_CODE), 10_000);
      void agent
        .stop(`watchdog: ${reason.kind}`, WATCHDOG_EXIT_CODE)
        .then(() => process.exit(WATCHDOG_EXIT_CODE));
    },
  });
}

async function service(
  verb: string | undefined,
  config: AgentConfig,
  values: Parameters<typeof agentConfigFrom>[0],
): Promise<void> {
  const { serviceCommand } = await import('./service/cli.js');
  await serviceCommand(verb, config, values);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === '--version') {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return;
  }
  const verb = command === 'service' ? rest.shift() : undefined;
  const { values, help } = readOptions(agentOptions, rest);
  if (help || command === undefined || command === 'help' || command === '--help') {
    process.stdout.write(formatHelp(usage, agentOptions));
    if (command === undefined) process.exitCode = 2;
    return;
  }
  const config = agentConfigFrom(values, optionsGiven(rest));
  if (command === 'run') return run(config);
  if (command === 'enroll') {
    await enrollAndSave(config);
    return;
  }
  if (command === 'service') return service(verb, config, values);
  throw new UsageError(`unknown command ${command}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as { code?: string; message: string };
  if (err instanceof UsageError) process.stderr.write(`vigil-agent: ${e.message}\n\n${usage}\n`);
  else if (err instanceof EnrollError || err instanceof AgentRevokedError)
    process.stderr.write(`vigil-agent: [${e.code}] ${e.message}\n`);
  else process.stderr.write(`vigil-agent: ${(err as Error).stack ?? e.message}\n`);
  process.exitCode = err instanceof UsageError ? 2 : err instanceof AgentRevokedError ? revokedExitCode() : 1;
});
