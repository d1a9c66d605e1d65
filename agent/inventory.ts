// What the agent tells the collector about its host, from systeminformation (read once at start;
// inventory is not on the scan path).
import si from 'systeminformation';
import type { HostInventory } from '../shared/protocol.js';

export async function hostInventory(): Promise<HostInventory> {
  const [os, uuid] = await Promise.all([si.osInfo(), si.uuid()]);
  return {
    hostname: os.hostname || 'unknown',
    // process.platform, not si's display name, so the collector can map it to a Sigma product.
    os: { platform: process.platform, distro: os.distro, release: os.release, arch: os.arch },
    systemUuid: uuid.hardware || uuid.os || '',
  };
}
