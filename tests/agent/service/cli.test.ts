// `vigil-agent service install --dry-run` shows the unit and the commands, and writes nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
    expect(out).toMatch(/ExecStart="[^"]*node[^"]*" "--lite-mode" "[^"]*cli\.js"/);
    expect(out).toMatch(/^Environment="MALLOC_ARENA_MAX=2"$/m);
    expect(out).toMatch(/would run: systemctl/);
    expect(out).not.toMatch(/enroll-secret/);
    expect(existsSync(unit)).toBe(existed);
    expect(existsSync(join(stateDir, 'identity.json'))).toBe(false);
    rmSync(stateDir, { recursive: true, force: true });
  });
});
