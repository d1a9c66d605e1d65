import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceSpecError } from '../../../agent/service/errors.js';
import { systemdUnit } from '../../../agent/service/systemd.js';
import { linuxSpec, toolAvailable } from './fixtures.js';

describe('systemdUnit text', () => {
  const unit = systemdUnit(linuxSpec());
  const lines = unit.split('\n');

  it('restarts always, stops with SIGTERM within 15 s and runs as a simple service', () => {
    for (const line of [
      'Type=simple',
      'Restart=always',
      'RestartSec=5',
      'KillSignal=SIGTERM',
      'TimeoutStopSec=15',
    ]) {
      expect(lines).toContain(line);
    }
    expect(lines).toContain('WantedBy=multi-user.target');
  });

  it('hardens without breaking V8, the network or the /proc readers', () => {
    for (const line of [
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'PrivateTmp=yes',
      'ProtectHome=read-only',
      'ProtectKernelModules=yes',
      'ProtectKernelTunables=yes',
      'ProtectControlGroups=yes',
      'RestrictSUIDSGID=yes',
      'LockPersonality=yes',
      'RestrictRealtime=yes',
      'SystemCallArchitectures=native',
      'CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET',
      'ReadWritePaths="/var/lib/vigil agent" "/var/log/vigil"',
    ]) {
      expect(lines).toContain(line);
    }
    const settings = lines.filter((line) => !line.startsWith('#'));
    for (const forbidden of ['MemoryDenyWriteExecute', 'PrivateNetwork', 'ProtectProc', 'ProcSubset']) {
      expect(settings.some((line) => line.startsWith(`${forbidden}=`))).toBe(false);
    }
    // Root needs no ambient set; it only matters for a non-root User=.
    expect(settings.some((line) => line.startsWith('AmbientCapabilities='))).toBe(false);
    expect(systemdUnit(linuxSpec({ user: 'vigil' }))).toContain('\nUser=vigil\n');
    expect(systemdUnit(linuxSpec({ user: 'vigil' }))).toContain(
      '\nAmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH\n',
    );
  });

  it('keeps a revoked agent stopped: exit 3 is not restarted', () => {
    expect(lines).toContain('RestartPreventExitStatus=3');
  });

  it('binds the host temp folders read-only into the private /tmp namespace and tells the sensor', () => {
    expect(lines).toContain('PrivateTmp=yes');
    expect(lines).toContain('RuntimeDirectory=vigil-agent');
    expect(lines).toContain(
      'BindReadOnlyPaths=-/tmp:/run/vigil-agent/host-tmp -/var/tmp:/run/vigil-agent/host-var-tmp',
    );
    expect(lines).toContain(
      'Environment="VIGIL_HOST_TEMP_DIRS=/tmp=/run/vigil-agent/host-tmp:/var/tmp=/run/vigil-agent/host-var-tmp"',
    );
  });

  it('quotes every word and escapes specifiers, $ and backslashes', () => {
    expect(lines).toContain(
      'ExecStart="/usr/bin/node" "/opt/vigil/dist/agent/cli.js" "run" "--collector" ' +
        '"ws://127.0.0.1:8443/ingest?a=1&b=\\"two\\" $$HOME %%h \\\\x <tag> café" "--state-dir" "/var/lib/vigil agent"',
    );
    expect(lines).toContain('Environment="VIGIL_TAG=site \\"A\\" & $B 50%%"');
    expect(lines).toContain('Environment="NODE_ENV=production"');
    expect(lines).toContain('Description=Vigil endpoint agent (100%% on duty)');
    expect(lines).toContain('WorkingDirectory=/var/lib/vigil agent');
  });

  it('refers to an optional EnvironmentFile only when given', () => {
    expect(unit).not.toContain('EnvironmentFile');
    expect(systemdUnit(linuxSpec({ environmentFile: '/etc/default/vigil-agent' }))).toContain(
      '\nEnvironmentFile=-/etc/default/vigil-agent\n',
    );
  });

  it('puts Node options between node and the script', () => {
    expect(systemdUnit(linuxSpec({ nodeArgs: ['--lite-mode'] }))).toContain(
      '\nExecStart="/usr/bin/node" "--lite-mode" "/opt/vigil/dist/agent/cli.js" "run" ',
    );
  });

  it('rejects specs that cannot be written as a unit', () => {
    expect(() => systemdUnit(linuxSpec({ nodePath: 'node' }))).toThrow(ServiceSpecError);
    expect(() => systemdUnit(linuxSpec({ args: ['run', 'two\nlines'] }))).toThrow(
      /args\[1\].*control character/,
    );
    expect(() => systemdUnit(linuxSpec({ name: 'vigil agent' }))).toThrow(/name/);
    expect(() => systemdUnit(linuxSpec({ name: '../evil' }))).toThrow(/name/);
    expect(() => systemdUnit(linuxSpec({ env: { 'BAD-NAME': 'x' } }))).toThrow(/BAD-NAME/);
    expect(() => systemdUnit(linuxSpec({ description: ' ' }))).toThrow(/description/);
    expect(() => systemdUnit(linuxSpec({ environmentFile: 'agent.env' }))).toThrow(/environmentFile/);
    expect(() => systemdUnit(linuxSpec({ nodeArgs: ['/tmp/other.js'] }))).toThrow(
      /nodeArgs\[0\].*Node option/,
    );
  });
});

const hasSystemdAnalyze = toolAvailable('systemd-analyze', ['--version'], 'apt-get install systemd');

describe.skipIf(!hasSystemdAnalyze)('systemd-analyze on the generated unit', () => {
  let dir: string;
  let unitFile: string;

  function verify(file: string) {
    const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    // Other units on the host may have their own warnings; only lines about ours count.
    const ours = `${result.stdout}${result.stderr}`
      .split('\n')
      .filter((line) => line.includes(path.basename(file)) || line.includes(dir));
    return { status: result.status, ours };
  }

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vigil systemd-'));
    // verify checks that ExecStart's binary exists: point it at this node and a real script.
    const script = path.join(dir, 'cli.js');
    writeFileSync(script, '');
    unitFile = path.join(dir, 'vigil-agent.service');
    writeFileSync(
      unitFile,
      systemdUnit(
        linuxSpec({
          nodePath: process.execPath,
          nodeArgs: ['--lite-mode'],
          scriptPath: script,
          environmentFile: '/etc/default/vigil-agent',
        }),
      ),
    );
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies with no warning', () => {
    expect(verify(unitFile)).toEqual({ status: 0, ours: [] });
  });

  it('would notice a broken setting or a missing binary (the check has teeth)', () => {
    const broken = path.join(dir, 'broken.service');
    writeFileSync(
      broken,
      systemdUnit(linuxSpec({ nodePath: process.execPath, scriptPath: unitFile })).replace(
        'Restart=always',
        'Restart=sometimes',
      ),
    );
    expect(verify(broken).ours.join('\n')).toMatch(/restart specifier/i);
    const missing = path.join(dir, 'missing.service');
    writeFileSync(
      missing,
      systemdUnit(linuxSpec({ nodePath: path.join(dir, 'no-such-node'), scriptPath: unitFile })),
    );
    expect(verify(missing).status).not.toBe(0);
    // A bind mount systemd cannot parse is reported too, so the one we generate was really read.
    const badBind = path.join(dir, 'bad-bind.service');
    writeFileSync(
      badBind,
      systemdUnit(linuxSpec({ nodePath: process.execPath, scriptPath: unitFile })).replace(
        /^BindReadOnlyPaths=.*$/m,
        'BindReadOnlyPaths=-/tmp:run/relative',
      ),
    );
    expect(verify(badBind).ours.join('\n')).toMatch(/BindReadOnlyPaths|relative|absolute/i);
  });

  it('is read by systemd as hardened, keeping only ptrace and DAC read among the risky capabilities', () => {
    const result = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unitFile], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    const passed = (setting: string) =>
      result.stdout
        .split('\n')
        .some((line) => line.startsWith('✓') && line.slice(1).trim().startsWith(setting));
    for (const setting of [
      'NoNewPrivileges=',
      'ProtectSystem=',
      'PrivateTmp=',
      'ProtectKernelModules=',
      'ProtectKernelTunables=',
      'ProtectControlGroups=',
      'ProtectClock=',
      'ProtectKernelLogs=',
      'ProtectHostname=',
      'RestrictRealtime=',
      'LockPersonality=',
      'SystemCallArchitectures=',
      'RestrictNamespaces=~user',
      'RestrictAddressFamilies=~…',
      'CapabilityBoundingSet=~CAP_SYS_ADMIN',
      'CapabilityBoundingSet=~CAP_NET_ADMIN',
      'CapabilityBoundingSet=~CAP_NET_(BIND_SERVICE|BROADCAST|RAW)',
      'CapabilityBoundingSet=~CAP_SYS_MODULE',
      'CapabilityBoundingSet=~CAP_SET(UID|GID|PCAP)',
    ]) {
      expect(passed(setting), setting).toBe(true);
    }
    // The two capabilities the sensors need are the two that remain.
    expect(passed('CapabilityBoundingSet=~CAP_SYS_PTRACE')).toBe(false);
    expect(passed('CapabilityBoundingSet=~CAP_(DAC_*|FOWNER|IPC_OWNER)')).toBe(false);
    const exposure = /Overall exposure level for .*: ([\d.]+)/.exec(result.stdout);
    expect(exposure).not.toBeNull();
    console.info(`systemd-analyze security exposure: ${exposure?.[1]}`);
  });
});
