// The prevalence an unexpected-process alert reports counts only agents still enrolled, on both
// sides: sightings by revoked agents never make it read "on 5 of 3 workstations".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { enrolledAgent, processStart } from '../alerts/fixtures.js';
import { api } from '../auth/helpers.js';

const SHA = 'f'.repeat(64);

describe.each(engines)('unexpected-process prevalence on %s', (engine) => {
  let c: RunningCollector;
  let agents: AgentRecord[];
  beforeAll(async () => {
    c = await startCollector(engine);
    agents = [];
    for (let i = 0; i < 5; i++) agents.push(await enrolledAgent(c));
  }, 180_000);
  afterAll(async () => c?.close());

  it('counts neither revoked sightings nor revoked agents', async () => {
    await api(c.url, 'PUT', '/api/v1/groups/default/baseline', undefined, { learningDays: 0 });
    // Four machines run the tool, then three of them are revoked; two stay plus one that never ran it.
    for (const agent of agents.slice(0, 4)) {
      await c.app.ingest(agent, [processStart(agent.id, '/opt/spread/tool', SHA)]);
    }
    for (const agent of agents.slice(0, 3)) {
      expect((await api(c.url, 'POST', `/api/v1/agents/${agent.id}/revoke`)).status).toBe(200);
    }
    const fifth = agents[4]!;
    const raised = await c.app.ingest(fifth, [processStart(fifth.id, '/opt/spread/tool', SHA)]);
    expect(raised.alertsCreated).toHaveLength(1);
    const { rows } = await c.testDb.db.query<{ evidence: { prevalence: Record<string, unknown> } }>(
      'SELECT evidence FROM alerts WHERE id = $1',
      [raised.alertsCreated[0]],
    );
    const prevalence = rows[0]!.evidence.prevalence;
    // Live: agents 4 and 5 ran it, of 2 enrolled (the other three are revoked).
    expect(prevalence).toMatchObject({ agents: 2, fleetAgents: 2, groupAgents: 2, groupFleetAgents: 2 });
    expect(prevalence.summary).toMatch(/^on 2 of 2 workstations/);
    expect(Number(prevalence.agents)).toBeLessThanOrEqual(Number(prevalence.fleetAgents));
  });
});
