// `vigil-agent service install --dry-run` shows the unit and the commands, and writes nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentOptions } from '../../../agent/config.js';
import { repoRoot, requireBuild } from '../../helpers/processes.js';

describe.skipIf(process.platform !== 'linux')('vigil-agent service --dry-run', () => {
  it('prints the systemd unit and the commands it would run, and writes nothing', () => {
    requireBuild();
    const stateDir = mkdtempSync(join(tmpdir(), 'vigil-svc-'));
    const unit = '/etc/systemd/system/vigil-agent.service';
    const existed = existsSync(unit);
    const out = execFileSync(
      process.execPath,
      [
        join(repoRoot, 'dist/agent/cli.js'),
        'service',
        'install',
        '--dry-run',
        '--state-dir',
        stateDir,
        '--collector',
        'https://collector.example:8443',
      ],
      { encoding: 'utf8' },
    );
    expect(out).toMatch(/ExecStart=.*cli\.js" "run" "--collector" "https:\/\/collector\.example:8443"/);
    // The service runs the agent the way bench:agent measured it (agent/runtime.ts).
    expect(out).toMatch(/ExecStart="[^"]*node[^"]*" "--lite-mode" "--no-expose-wasm" "[^"]*cli\.js"/);
    expect(out).toMatch(/^Environment="MALLOC_ARENA_MAX=2"$/m);
    expect(out).toMatch(/would run: systemctl/);
    expect(out).not.toMatch(/enroll-secret/);
    expect(existsSync(unit)).toBe(existed);
    expect(existsSync(join(stateDir, 'identity.json'))).toBe(false);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('forwards every agent option given a non-default value, from flags and environment alike', () => {
    requireBuild();
    const stateDir = mkdtempSync(join(tmpdir(), 'vigil-svc-'));
    // One non-default value per option; the secret and the install-time switch must not travel.
    const notForwarded = new Set(['enroll-secret', 'dry-run', 'collector', 'state-dir', 'log-dir']);
    const values: Record<string, string> = {
      ca: '/etc/vigil/ca.pem',
      'log-level': 'debug',
      'spool-max-mb': '64',
      'spool-max-age-days': '3',
      'max-rss-mb': '150',
      'max-cpu-percent': '40',
      'capture-dirs': '/srv/captures:/data/pcaps',
    };
    const flags = Object.entries(agentOptions)
      .filter(([name]) => !notForwarded.has(name))
      .map(([name, spec]) => ('type' in spec && spec.type === 'boolean' ? [name] : [name, values[name]!]));
    expect(flags.every((flag) => flag.length === 1 || flag[1] !== undefined)).toBe(true);
    // Half the options as flags, the rest through their environment variables.
    const argv: string[] = [];
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [index, [name, value]] of flags.entries()) {
      const spec = agentOptions[name as keyof typeof agentOptions];
      if (index % 2 === 0) argv.push(`--${name}`, ...(value === undefined ? [] : [value]));
      else env[spec.env] = value ?? 'true';
    }
    const result = spawnSync(
      process.execPath,
      [
        join(repoRoot, 'dist/agent/cli.js'),
        'service',
        'install',
        '--dry-run',
        '--state-dir',
        stateDir,
        '--enroll-secret',
        'very-secret',
        ...argv,
      ],
      { encoding: 'utf8', env },
    );
    expect(result.status, result.stderr).toBe(0);
    const execStart = /^ExecStart=(.*)$/m.exec(result.stdout)?.[1] ?? '';
    for (const [name, value] of flags) {
      expect(execStart, name).toContain(value === undefined ? `"--${name}"` : `"--${name}" "${value}"`);
    }
    expect(result.stdout).not.toMatch(/very-secret|dry-run/);
    // --insecure is said loudly on stderr at install time.
    expect(result.stderr).toMatch(/WARNING: TLS verification is OFF/);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('leaves options at their default off the command line', () => {
    requireBuild();
    const out = execFileSync(
      process.execPath,
      [join(repoRoot, 'dist/agent/cli.js'), 'service', 'install', '--dry-run', '--spool-max-mb', '512'],
      { encoding: 'utf8', env: { ...process.env, VIGIL_STATE_DIR: join(tmpdir(), 'vigil-unused-state') } },
    );
    const execStart = /^ExecStart=(.*)$/m.exec(out)?.[1] ?? '';
    expect(execStart).toContain('"--log-dir"');
    expect(execStart).not.toMatch(/spool-max-mb|insecure|log-level/);
  });
});
