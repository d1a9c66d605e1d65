// What the agent tells the collector about its host, from systeminformation: read once at start,
// in a short-lived child process. systeminformation is a large library (about 5 MB of the agent's
// resident memory for one answer), and inventory is not on the scan path.
import { execFile } from 'node:child_process';
import { arch, hostname, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { checkHostInventory } from '../shared/checks.js';
import type { HostInventory } from '../shared/protocol.js';

const run = promisify(execFile);
const probePath = fileURLToPath(new URL('./inventory-probe.js', import.meta.url));

/** The inventory from systeminformation; what Node itself knows when the probe fails. */
export async function hostInventory(log?: Logger, probe = probePath): Promise<HostInventory> {
  try {
    const { stdout } = await run(process.execPath, [probe], {
      timeout: 60_000,
      maxBuffer: 1024 * 1024,
      windowsHide: true,
    });
    const checked = checkHostInventory(JSON.parse(stdout));
    if (checked.ok) return checked.value;
    throw new Error(`unexpected inventory: ${checked.errors.join('; ')}`);
  } catch (err) {
    // The agent reports with a thinner inventory rather than not at all.
    log?.warn({ err }, 'host inventory probe failed; using what Node reports');
    return {
      hostname: hostname() || 'unknown',
      os: { platform: process.platform, distro: '', release: release(), arch: arch() },
      systemUuid: '',
    };
  }
}
