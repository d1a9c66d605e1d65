// Rule switches and uploads made through one collector reach every collector on the database
// (vigil_rules): the other one stops raising a disabled rule's alerts and runs an uploaded rule.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import { buildApp } from '../../../collector/app.js';
import { openPostgres } from '../../../collector/db/db.js';
import { PACKET_SOCKET_RULE_ID } from '../../../collector/detection/plugin.js';
import { packetSocketEvent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector, testCollectorConfig } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { waitFor } from '../../helpers/processes.js';
import { enrolledAgent, processStart } from '../alerts/fixtures.js';
import { api } from '../auth/helpers.js';

const UPLOADED_ID = '3e5c8b1a-2f4d-4c6e-9a7b-000000000051';
const uploaded = `title: Cluster Uploaded Rule
id: ${UPLOADED_ID}
logsource:
    category: process_creation
detection:
    selection:
        Image|endswith: '/cluster-probe'
    condition: selection
level: high
`;

describe.runIf(engines.includes('postgres'))('rules across two collectors on one PostgreSQL', () => {
  let first: RunningCollector;
  let second: Awaited<ReturnType<typeof buildApp>>;
  let closeSecond: () => Promise<void>;
  let agent: AgentRecord;
  beforeAll(async () => {
    first = await startCollector('postgres');
    const db = openPostgres(first.testDb.databaseUrl!);
    second = await buildApp(testCollectorConfig(first.testDb.dataDir), { db, logger: false });
    await second.ready();
    closeSecond = async () => {
      await second.close();
      await db.close();
    };
    agent = await enrolledAgent(first);
  }, 120_000);
  afterAll(async () => {
    await closeSecond?.();
    await first?.close();
  });

  it('a rule disabled through one collector is disabled on the other, and enabled again', async () => {
    expect(second.detection.isEnabled(PACKET_SOCKET_RULE_ID)).toBe(true);
    expect((await api(first.url, 'POST', `/api/v1/rules/${PACKET_SOCKET_RULE_ID}/disable`)).status).toBe(200);
    await waitFor(
      'second collector disables the rule',
      async () => (second.detection.isEnabled(PACKET_SOCKET_RULE_ID) ? undefined : true),
      5000,
    );
    const quiet = await second.ingest(agent, [packetSocketEvent(agent.id, { inode: 501 })]);
    expect(quiet.alertsCreated).toEqual([]);

    expect((await api(first.url, 'POST', `/api/v1/rules/${PACKET_SOCKET_RULE_ID}/enable`)).status).toBe(200);
    await waitFor(
      'second collector enables the rule',
      async () => (second.detection.isEnabled(PACKET_SOCKET_RULE_ID) ? true : undefined),
      5000,
    );
    const loud = await second.ingest(agent, [packetSocketEvent(agent.id, { inode: 502 })]);
    expect([...loud.alertsCreated, ...loud.alertsUpdated]).toHaveLength(1);
  });

  it('the unexpected-process switch travels the same way', async () => {
    expect((await api(first.url, 'POST', '/api/v1/rules/vigil-unexpected-process/disable')).status).toBe(200);
    await waitFor(
      'second collector disables the baseline rule',
      async () => (second.detection.isEnabled('vigil-unexpected-process') ? undefined : true),
      5000,
    );
    expect((await api(first.url, 'POST', '/api/v1/rules/vigil-unexpected-process/enable')).status).toBe(200);
    await waitFor(
      'second collector enables the baseline rule',
      async () => (second.detection.isEnabled('vigil-unexpected-process') ? true : undefined),
      5000,
    );
  });

  it('a rule uploaded through one collector runs on the other', async () => {
    expect(second.detection.rules.some((r) => r.id === UPLOADED_ID)).toBe(false);
    const res = await api(first.url, 'POST', '/api/v1/rules', undefined, { yaml: uploaded });
    expect(res.status).toBe(201);
    await waitFor(
      'second collector loads the uploaded rule',
      async () => (second.detection.rules.some((r) => r.id === UPLOADED_ID) ? true : undefined),
      5000,
    );
    const result = await second.ingest(agent, [processStart(agent.id, '/usr/local/bin/cluster-probe')]);
    const { rows } = await first.testDb.db.query<{ rule_id: string }>(
      'SELECT rule_id FROM alerts WHERE id = ANY($1::uuid[])',
      [result.alertsCreated],
    );
    expect(rows.map((r) => r.rule_id)).toContain(UPLOADED_ID);
    const listed = await api(first.url, 'GET', '/api/v1/rules');
    expect(listed.json.rules.find((r: { id: string }) => r.id === UPLOADED_ID)).toMatchObject({
      source: 'uploaded',
    });
  });
});
