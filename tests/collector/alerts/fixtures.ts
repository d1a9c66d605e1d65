// Alerts for tests, raised through the real ingest path (store → rules → alerts).
import { v7 as uuidv7 } from 'uuid';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import type { VigilEvent } from '../../../shared/events.js';
import { enrollAgent, packetSocketEvent, testHost } from '../../helpers/agent-client.js';
import type { RunningCollector } from '../../helpers/collector.js';

export async function enrolledAgent(collector: RunningCollector): Promise<AgentRecord> {
  const { agentId } = await enrollAgent(collector.url);
  return { id: agentId, groupId: 'default', hostname: testHost.hostname, platform: 'linux', revoked: false };
}

/** Ingests one packet-socket event (the built-in rule matches it) and returns the alert id. */
export async function raiseAlert(
  collector: RunningCollector,
  agent: AgentRecord,
  overrides: Record<string, unknown> = {},
): Promise<{ alertId: string; event: VigilEvent }> {
  const event = packetSocketEvent(agent.id, overrides as never);
  const result = await collector.app.ingest(agent, [event]);
  const alertId = result.alertsCreated[0] ?? result.alertsUpdated[0];
  if (!alertId) throw new Error(`no alert raised: ${JSON.stringify(result)}`);
  return { alertId, event };
}

export function processStart(agentId: string, exe: string, sha256?: string, time = new Date()): VigilEvent {
  return {
    id: uuidv7(),
    agentId,
    time: time.toISOString(),
    type: 'process.start',
    data: {
      pid: 4321,
      ppid: 1,
      name: exe.split('/').at(-1)!,
      exe,
      cmdline: exe,
      user: 'agent01',
      startTime: time.toISOString(),
      ...(sha256 ? { sha256 } : {}),
    },
  } as VigilEvent;
}
