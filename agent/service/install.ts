import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ServiceSpecError, UnsupportedPlatformError } from './errors.js';
import { launchdPlist } from './launchd.js';
import { runCommand, runCommandChecked } from './run-command.js';
import { launchdLabel, type ServicePlatform, type ServiceSpec } from './spec.js';
import { systemdUnit } from './systemd.js';
import { winswXml } from './winsw.js';

export interface ServiceInstallOptions {
  /** Write files but run no service-manager command (systemctl, launchctl, winsw). */
  dryRun?: boolean;
  /** Prefix for the service file location (tests, image building); the service manager ignores it. */
  root?: string;
  /** Windows: the WinSW v3 executable; defaults to winsw.exe beside the XML. */
  winswPath?: string;
}

export interface ServiceChange {
  /** Service files written (install) or removed (uninstall). */
  files: string[];
  /** Service-manager commands run, or that would run with dryRun. */
  commands: string[][];
}

export interface ServiceStatus {
  installed: boolean;
  /** Service-manager state: systemd's is-active word, launchd's state, WinSW's status line. */
  active?: string;
  detail: string;
}

interface PlannedCommand {
  argv: string[];
  /** Stopping something that is not running must not abort an uninstall or reinstall. */
  mayFail: boolean;
}

function toServicePlatform(platform: NodeJS.Platform): ServicePlatform {
  if (platform === 'linux' || platform === 'darwin' || platform === 'win32') return platform;
  throw new UnsupportedPlatformError(`no service manager support for platform ${platform}`);
}

function checkRoot(root: string | undefined): void {
  if (root !== undefined && !path.isAbsolute(root)) {
    throw new ServiceSpecError(`root must be an absolute path: ${root}`);
  }
}

/** Where the service file lives on the target (under `root` when given). */
export function serviceFilePath(name: string, platform: NodeJS.Platform, root?: string): string {
  checkRoot(root);
  switch (toServicePlatform(platform)) {
    case 'linux':
      return path.join(root ?? '/', 'etc/systemd/system', `${name}.service`);
    case 'darwin':
      return path.join(root ?? '/', 'Library/LaunchDaemons', `${launchdLabel(name)}.plist`);
    case 'win32':
      return root === undefined
        ? path.win32.join(process.env.ProgramData ?? 'C:\\ProgramData', 'Vigil', `${name}.xml`)
        : path.join(root, 'ProgramData', 'Vigil', `${name}.xml`);
  }
}

function winswExecutable(serviceFile: string, options: ServiceInstallOptions): string {
  return options.winswPath ?? path.win32.join(path.win32.dirname(serviceFile), 'winsw.exe');
}

function serviceFileText(spec: ServiceSpec, platform: ServicePlatform): string {
  switch (platform) {
    case 'linux':
      return systemdUnit(spec);
    case 'darwin':
      return launchdPlist(spec);
    case 'win32':
      return winswXml(spec);
  }
}

function installCommands(
  spec: ServiceSpec,
  platform: ServicePlatform,
  serviceFile: string,
  reinstall: boolean,
  options: ServiceInstallOptions,
): PlannedCommand[] {
  const must = (argv: string[]): PlannedCommand => ({ argv, mayFail: false });
  switch (platform) {
    case 'linux': {
      const unit = `${spec.name}.service`;
      return [
        must(['systemctl', 'daemon-reload']),
        must(['systemctl', 'enable', '--now', unit]),
        // enable --now leaves an already running old version alone.
        ...(reinstall ? [must(['systemctl', 'restart', unit])] : []),
      ];
    }
    case 'darwin': {
      const target = `system/${launchdLabel(spec.name)}`;
      return [
        // bootstrap refuses a label that is already loaded.
        ...(reinstall ? [{ argv: ['launchctl', 'bootout', target], mayFail: true }] : []),
        must(['launchctl', 'bootstrap', 'system', serviceFile]),
      ];
    }
    case 'win32': {
      const winsw = winswExecutable(serviceFile, options);
      return reinstall
        ? [must([winsw, 'refresh', serviceFile]), must([winsw, 'restart', serviceFile])]
        : [must([winsw, 'install', serviceFile]), must([winsw, 'start', serviceFile])];
    }
  }
}

function uninstallCommands(
  spec: ServiceSpec,
  platform: ServicePlatform,
  serviceFile: string,
  options: ServiceInstallOptions,
): { beforeRemoval: PlannedCommand[]; afterRemoval: PlannedCommand[] } {
  switch (platform) {
    case 'linux':
      return {
        beforeRemoval: [{ argv: ['systemctl', 'disable', '--now', `${spec.name}.service`], mayFail: false }],
        afterRemoval: [{ argv: ['systemctl', 'daemon-reload'], mayFail: false }],
      };
    case 'darwin':
      return {
        beforeRemoval: [
          { argv: ['launchctl', 'bootout', `system/${launchdLabel(spec.name)}`], mayFail: true },
        ],
        afterRemoval: [],
      };
    case 'win32': {
      const winsw = winswExecutable(serviceFile, options);
      return {
        beforeRemoval: [
          { argv: [winsw, 'stop', serviceFile], mayFail: true },
          { argv: [winsw, 'uninstall', serviceFile], mayFail: false },
        ],
        afterRemoval: [],
      };
    }
  }
}

async function runPlanned(commands: PlannedCommand[], dryRun: boolean): Promise<void> {
  if (dryRun) return;
  for (const { argv, mayFail } of commands) {
    if (mayFail) await runCommand(argv);
    else await runCommandChecked(argv);
  }
}

/** Written beside the target and renamed over it, so a crash never leaves half a unit file. */
async function writeFileAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o644 });
  await rename(temporary, file);
}

/**
 * Writes the service file and (unless dryRun) registers and starts the service.
 * The spec is fully validated before anything is written.
 */
export async function installService(
  spec: ServiceSpec,
  platform: NodeJS.Platform = process.platform,
  options: ServiceInstallOptions = {},
): Promise<ServiceChange> {
  const servicePlatform = toServicePlatform(platform);
  const text = serviceFileText(spec, servicePlatform);
  const serviceFile = serviceFilePath(spec.name, platform, options.root);
  const reinstall = existsSync(serviceFile);
  const commands = installCommands(spec, servicePlatform, serviceFile, reinstall, options);
  await writeFileAtomically(serviceFile, text);
  // Only on the machine the service is for; a file generated for another OS is just written.
  if (!options.dryRun && platform === process.platform) {
    // systemd's ReadWritePaths= refuses to start when a listed directory is missing.
    await mkdir(spec.stateDir, { recursive: true, mode: 0o750 });
    await mkdir(spec.logDir, { recursive: true, mode: 0o750 });
  }
  await runPlanned(commands, options.dryRun ?? false);
  return { files: [serviceFile], commands: commands.map((command) => command.argv) };
}

/** Stops and unregisters the service and removes its file; nothing to do when it is not installed. */
export async function uninstallService(
  spec: ServiceSpec,
  platform: NodeJS.Platform = process.platform,
  options: ServiceInstallOptions = {},
): Promise<ServiceChange> {
  const servicePlatform = toServicePlatform(platform);
  const serviceFile = serviceFilePath(spec.name, platform, options.root);
  if (!existsSync(serviceFile)) return { files: [], commands: [] };
  const { beforeRemoval, afterRemoval } = uninstallCommands(spec, servicePlatform, serviceFile, options);
  const dryRun = options.dryRun ?? false;
  await runPlanned(beforeRemoval, dryRun);
  await rm(serviceFile, { force: true });
  await runPlanned(afterRemoval, dryRun);
  return {
    files: [serviceFile],
    commands: [...beforeRemoval, ...afterRemoval].map((command) => command.argv),
  };
}

function statusCommand(
  spec: ServiceSpec,
  platform: ServicePlatform,
  serviceFile: string,
  options: ServiceInstallOptions,
): string[] {
  switch (platform) {
    case 'linux':
      return ['systemctl', 'is-active', `${spec.name}.service`];
    case 'darwin':
      return ['launchctl', 'print', `system/${launchdLabel(spec.name)}`];
    case 'win32':
      return [winswExecutable(serviceFile, options), 'status', serviceFile];
  }
}

/** Reads the state word each service manager prints. */
export function parseActiveState(platform: ServicePlatform, stdout: string): string | undefined {
  const text = stdout.trim();
  if (platform === 'darwin') return /^\s*state = (.+)$/m.exec(stdout)?.[1]?.trim();
  return text === '' ? undefined : (text.split('\n')[0]?.trim() ?? undefined);
}

/** Whether the service file exists and, unless dryRun, what the service manager says about it. */
export async function serviceStatus(
  spec: ServiceSpec,
  platform: NodeJS.Platform = process.platform,
  options: ServiceInstallOptions = {},
): Promise<ServiceStatus> {
  const servicePlatform = toServicePlatform(platform);
  const serviceFile = serviceFilePath(spec.name, platform, options.root);
  if (!existsSync(serviceFile)) return { installed: false, detail: `${serviceFile} does not exist` };
  const argv = statusCommand(spec, servicePlatform, serviceFile, options);
  if (options.dryRun) {
    return { installed: true, detail: `${serviceFile} exists; dry run, did not run ${argv.join(' ')}` };
  }
  const result = await runCommand(argv);
  const active = parseActiveState(servicePlatform, result.stdout) ?? 'unknown';
  const output = `${result.stdout}${result.stderr}`.trim();
  return {
    installed: true,
    active,
    detail: `${serviceFile} exists; ${argv.join(' ')} exited ${result.exitCode}${output === '' ? '' : `: ${output}`}`,
  };
}
