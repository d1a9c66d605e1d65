// Explicit enrollment (`vigil-agent enroll`, and `service install` for an agent not enrolled yet):
// enroll once with the group secret and keep the identity in the state directory. A successful
// enrollment lifts the `revoked` marker, so a refused agent runs again only after this.
import type { AgentConfig } from './config.js';
import { clearRevoked, enroll, type Identity, saveIdentity } from './identity.js';
import { hostInventory } from './inventory.js';
import { tlsOptions, warnIfInsecure } from './tls.js';
import { AGENT_VERSION } from './version.js';

export async function enrollAndSave(config: AgentConfig): Promise<Identity> {
  warnIfInsecure(config);
  const identity = await enroll({
    collectorUrl: config.collectorUrl,
    secret: config.enrollSecret,
    host: await hostInventory(),
    agentVersion: AGENT_VERSION,
    tls: tlsOptions(config),
  });
  saveIdentity(config.stateDir, identity);
  clearRevoked(config.stateDir);
  process.stdout.write(`enrolled as ${identity.agentId} in group ${identity.group}\n`);
  return identity;
}
