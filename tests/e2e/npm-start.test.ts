// `npm start` (dist/scripts/start.js) as an operator runs it: "Vigil is running" is printed only
// once the agent is connected; Ctrl-C stops the agent first and everything exits 0; started again
// on another PORT with the same data directory, the enrolled agent follows the new address.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, repoRoot, requireBuild, waitFor } from '../helpers/processes.js';

function npmStart(port: number, dataDir: string) {
  const child = spawn(process.execPath, [join(repoRoot, 'dist/scripts/start.js')], {
    cwd: repoRoot,
    env: { ...process.env, PORT: String(port), VIGIL_DATA_DIR: dataDir, DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-npm-start-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('says running once the agent is connected, stops in order, and survives a PORT change', async () => {
    requireBuild();
    for (const round of [1, 2]) {
      const port = await freePort();
      const run = npmStart(port, dataDir);
      try {
        await waitFor(
          `round ${round}: Vigil is running`,
          async () => (run.output().includes('Vigil is running.') ? true : undefined),
          240_000,
        );
        const text = run.output();
        // The agent's "connected" line (to this port) comes before the banner.
        const connectedAt = text.indexOf('connected to the collector');
        expect(connectedAt).toBeGreaterThan(-1);
        expect(connectedAt).toBeLessThan(text.indexOf('Vigil is running.'));
        expect(text).toContain(`"collector":"http://127.0.0.1:${port}"`);
        expect(text).not.toContain('ECONNREFUSED');
      } catch (err) {
        run.child.kill('SIGKILL');
        throw new Error(`${(err as Error).message}\n${run.output().slice(-3000)}`);
      }
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      // The agent stopped (and said so) before the collector went away.
      const text = run.output();
      expect(text.indexOf('"signal":"SIGTERM"')).toBeGreaterThan(-1);
    }
  }, 600_000);
});
