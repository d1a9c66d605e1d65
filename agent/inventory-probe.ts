// Run as a child of the agent (see inventory.ts): prints the host inventory from systeminformation
// as one JSON line and exits.
import { pathToFileURL } from 'node:url';
import si from 'systeminformation';
import type { HostInventory } from '../shared/protocol.js';

export async function gatherInventory(): Promise<HostInventory> {
  const [os, uuid] = await Promise.all([si.osInfo(), si.uuid()]);
  return {
    hostname: os.hostname || 'unknown',
    // process.platform, not si's display name, so the collector can map it to a Sigma product.
    os: { platform: process.platform, distro: os.distro, release: os.release, arch: os.arch },
    systemUuid: uuid.hardware || uuid.os || '',
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${JSON.stringify(await gatherInventory())}\n`);
}
