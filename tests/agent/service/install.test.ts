import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ServiceCommandError,
  ServiceSpecError,
  UnsupportedPlatformError,
} from '../../../agent/service/errors.js';
import {
  installService,
  parseActiveState,
  serviceFilePath,
  serviceStatus,
  uninstallService,
} from '../../../agent/service/install.js';
import { launchdPlist } from '../../../agent/service/launchd.js';
import { runCommand, runCommandChecked } from '../../../agent/service/run-command.js';
import { systemdUnit } from '../../../agent/service/systemd.js';
import { winswXml } from '../../../agent/service/winsw.js';
import { linuxSpec, toolAvailable, windowsSpec } from './fixtures.js';

let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'vigil-service-root-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('systemd install under a root directory', () => {
  it('writes the unit, plans daemon-reload + enable --now, restarts on reinstall, uninstalls', async () => {
    const spec = linuxSpec();
    const unitPath = path.join(root, 'etc/systemd/system/vigil-agent.service');

    const first = await installService(spec, 'linux', { root, dryRun: true });
    expect(first).toEqual({
      files: [unitPath],
      commands: [
        ['systemctl', 'daemon-reload'],
        ['systemctl', 'enable', '--now', 'vigil-agent.service'],
      ],
    });
    expect(readFileSync(unitPath, 'utf8')).toBe(systemdUnit(spec));
    expect(statSync(unitPath).mode & 0o777).toBe(0o644);
    // No temporary file is left beside the unit.
    expect(readdirSync(path.dirname(unitPath))).toEqual(['vigil-agent.service']);

    const second = await installService(spec, 'linux', { root, dryRun: true });
    expect(second.commands.at(-1)).toEqual(['systemctl', 'restart', 'vigil-agent.service']);

    expect(await serviceStatus(spec, 'linux', { root, dryRun: true })).toEqual({
      installed: true,
      detail: `${unitPath} exists; dry run, did not run systemctl is-active vigil-agent.service`,
    });

    expect(await uninstallService(spec, 'linux', { root, dryRun: true })).toEqual({
      files: [unitPath],
      commands: [
        ['systemctl', 'disable', '--now', 'vigil-agent.service'],
        ['systemctl', 'daemon-reload'],
      ],
    });
    expect(existsSync(unitPath)).toBe(false);
    expect(await serviceStatus(spec, 'linux', { root })).toEqual({
      installed: false,
      detail: `${unitPath} does not exist`,
    });
    // Uninstalling twice is not an error and runs nothing.
    expect(await uninstallService(spec, 'linux', { root })).toEqual({ files: [], commands: [] });
  });

  it('writes nothing when the spec is bad', async () => {
    await expect(
      installService(linuxSpec({ logDir: 'relative/logs' }), 'linux', { root, dryRun: true }),
    ).rejects.toThrow(ServiceSpecError);
    expect(readdirSync(root)).toEqual([]);
  });

  const hasSystemctl =
    process.platform === 'linux' && toolAvailable('systemctl', ['--version'], 'apt-get install systemd');

  it.skipIf(!hasSystemctl)('asks the real systemctl for the state of an installed unit', async () => {
    const spec = linuxSpec({ name: 'vigil-agent-test-status' });
    await installService(spec, 'linux', { root, dryRun: true });
    const status = await serviceStatus(spec, 'linux', { root });
    expect(status.installed).toBe(true);
    // "inactive" on a booted host (the unit is only under our root), "unknown" in a container without systemd.
    expect(status.active).toMatch(/^(inactive|unknown|failed)$/);
    expect(status.detail).toContain('systemctl is-active vigil-agent-test-status.service exited');
  });
});

describe('launchd install under a root directory', () => {
  it('writes the LaunchDaemon plist and bootstraps it; reinstall boots out first', async () => {
    const spec = linuxSpec();
    const plistPath = path.join(root, 'Library/LaunchDaemons/com.vigil.agent.plist');
    expect(await installService(spec, 'darwin', { root, dryRun: true })).toEqual({
      files: [plistPath],
      commands: [['launchctl', 'bootstrap', 'system', plistPath]],
    });
    expect(readFileSync(plistPath, 'utf8')).toBe(launchdPlist(spec));
    expect((await installService(spec, 'darwin', { root, dryRun: true })).commands).toEqual([
      ['launchctl', 'bootout', 'system/com.vigil.agent'],
      ['launchctl', 'bootstrap', 'system', plistPath],
    ]);
    expect((await uninstallService(spec, 'darwin', { root, dryRun: true })).commands).toEqual([
      ['launchctl', 'bootout', 'system/com.vigil.agent'],
    ]);
    expect(existsSync(plistPath)).toBe(false);
  });
});

describe('WinSW install under a root directory', () => {
  it('writes the XML and drives winsw install/start, refresh/restart, stop/uninstall', async () => {
    const spec = windowsSpec();
    const xmlPath = path.join(root, 'ProgramData/Vigil/vigil-agent.xml');
    const winsw = path.win32.join(path.win32.dirname(xmlPath), 'winsw.exe');
    expect(await installService(spec, 'win32', { root, dryRun: true })).toEqual({
      files: [xmlPath],
      commands: [
        [winsw, 'install', xmlPath],
        [winsw, 'start', xmlPath],
      ],
    });
    expect(readFileSync(xmlPath, 'utf8')).toBe(winswXml(spec));
    expect(
      (await installService(spec, 'win32', { root, dryRun: true, winswPath: 'C:\\Vigil\\winsw.exe' }))
        .commands,
    ).toEqual([
      ['C:\\Vigil\\winsw.exe', 'refresh', xmlPath],
      ['C:\\Vigil\\winsw.exe', 'restart', xmlPath],
    ]);
    expect((await uninstallService(spec, 'win32', { root, dryRun: true })).commands).toEqual([
      [winsw, 'stop', xmlPath],
      [winsw, 'uninstall', xmlPath],
    ]);
  });

  it('reports a failing service-manager command with its argv and exit code', async () => {
    const spec = windowsSpec();
    // A real process that fails, standing in for winsw.exe: the install must stop at the first command.
    const failure = await installService(spec, 'win32', { root, winswPath: 'false' }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ServiceCommandError);
    expect(failure).toMatchObject({ code: 'SERVICE_COMMAND_FAILED', exitCode: 1 });
    expect((failure as ServiceCommandError).command).toEqual([
      'false',
      'install',
      serviceFilePath('vigil-agent', 'win32', root),
    ]);

    const missing = await installService(spec, 'win32', {
      root,
      winswPath: path.join(root, 'no-winsw.exe'),
    }).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ServiceCommandError);
    expect((missing as Error).message).toMatch(/not installed or not on PATH/);
  });
});

describe('service plumbing', () => {
  it('knows the default service file locations', () => {
    expect(serviceFilePath('vigil-agent', 'linux')).toBe('/etc/systemd/system/vigil-agent.service');
    expect(serviceFilePath('vigil-agent', 'darwin')).toBe('/Library/LaunchDaemons/com.vigil.agent.plist');
    expect(serviceFilePath('vigil-agent', 'win32')).toMatch(/\\Vigil\\vigil-agent\.xml$/);
  });

  it('refuses unknown platforms and a relative root', async () => {
    await expect(installService(linuxSpec(), 'aix', { root })).rejects.toThrow(UnsupportedPlatformError);
    await expect(serviceStatus(linuxSpec(), 'freebsd')).rejects.toMatchObject({
      code: 'SERVICE_PLATFORM_UNSUPPORTED',
    });
    await expect(installService(linuxSpec(), 'linux', { root: 'relative' })).rejects.toThrow(/root/);
  });

  it('reads the state word of each service manager', () => {
    expect(parseActiveState('linux', 'active\n')).toBe('active');
    expect(parseActiveState('linux', '')).toBeUndefined();
    expect(
      parseActiveState('darwin', 'system/com.vigil.agent = {\n\tactive count = 1\n\tstate = running\n'),
    ).toBe('running');
    expect(parseActiveState('win32', 'Active (running)\r\n')).toBe('Active (running)');
  });

  it('runs real commands without a shell and reports failures', async () => {
    expect(
      await runCommand([process.execPath, '-e', 'process.stdout.write("a b"); process.exit(3)']),
    ).toEqual({
      exitCode: 3,
      stdout: 'a b',
      stderr: '',
    });
    await expect(
      runCommandChecked([process.execPath, '-e', 'console.error("nope"); process.exit(2)']),
    ).rejects.toThrow(/exited with 2: nope/);
    await expect(runCommand(['vigil-no-such-tool-xyz'])).rejects.toThrow(ServiceCommandError);
  });
});
