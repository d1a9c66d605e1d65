import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import type { CollectorConfig } from '../../../collector/config.js';
import { allowlistCovers, globToRegExp } from '../../../collector/detection/baseline.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { enrolledAgent, processStart } from '../alerts/fixtures.js';
import { api, userWithRole } from '../auth/helpers.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

describe('allowlist matching', () => {
  const entry = {
    id: 'x',
    groupId: 'g',
    pathGlob: null,
    name: null,
    sha256: null,
    signer: null,
    reason: '',
    createdAt: '',
  };
  const proc = {
    pid: 1,
    ppid: 0,
    name: 'Teams.exe',
    exe: 'C:\\Program Files\\Teams\\Teams.exe',
    cmdline: '',
    user: 'u',
    startTime: '',
  };
  it('treats * and ? as wildcards and everything else literally, ignoring case', () => {
    expect(globToRegExp('C:\\Program Files\\*\\Teams.exe').test(proc.exe)).toBe(true);
    expect(globToRegExp('/usr/bin/(x)?').test('/usr/bin/(x)y')).toBe(true);
    expect(globToRegExp('/usr/bin/a.b').test('/usr/bin/axb')).toBe(false);
  });
  it('requires every criterion the entry sets', () => {
    expect(allowlistCovers({ ...entry, name: 'teams.exe' }, proc)).toBe(true);
    expect(allowlistCovers({ ...entry, name: 'teams.exe', signer: 'Microsoft Corporation' }, proc)).toBe(
      false,
    );
    expect(
      allowlistCovers(
        { ...entry, signer: 'Microsoft Corporation' },
        { ...proc, signer: 'Microsoft Corporation' },
      ),
    ).toBe(true);
    expect(allowlistCovers({ ...entry, sha256: SHA_A }, { ...proc, sha256: SHA_A })).toBe(true);
    expect(allowlistCovers({ ...entry, sha256: SHA_A }, proc)).toBe(false);
  });
});

describe.each(engines)('unexpected processes on %s', (engine) => {
  let c: RunningCollector;
  let a1: AgentRecord;
  let a2: AgentRecord;
  let analyst: { token: string };
  let manager: { token: string };
  beforeAll(async () => {
    c = await startCollector(engine, { loginRateLimitPerMinute: 1000 } as Partial<CollectorConfig>);
    a1 = await enrolledAgent(c);
    a2 = await enrolledAgent(c);
    analyst = await userWithRole(c.url, 'analyst');
    manager = await userWithRole(c.url, 'incident_manager');
  }, 180_000);
  afterAll(async () => c?.close());

  it('learns during the learning period, then alerts on executables the group never ran', async () => {
    const learning = await api(c.url, 'GET', '/api/v1/groups/default/baseline', analyst.token);
    expect(learning.json).toMatchObject({ learning: true, learningDays: 7 });
    const learnt = await c.app.ingest(a1, [
      processStart(a1.id, '/usr/bin/softphone', SHA_A),
      processStart(a1.id, '/usr/bin/crm'),
    ]);
    expect(learnt.alertsCreated).toEqual([]);

    // Manager ends learning: the period is counted from the first enrollment.
    const ended = await api(c.url, 'PUT', '/api/v1/groups/default/baseline', manager.token, {
      learningDays: 0,
    });
    expect(ended.json).toMatchObject({ learning: false, baselineSize: 2 });

    const known = await c.app.ingest(a2, [
      processStart(a2.id, '/usr/bin/softphone', SHA_A),
      processStart(a2.id, '/usr/bin/crm'),
    ]);
    expect(known.alertsCreated).toEqual([]);
    // Same path, another binary: unexpected.
    const swapped = await c.app.ingest(a2, [processStart(a2.id, '/usr/bin/softphone', SHA_B)]);
    expect(swapped.alertsCreated).toHaveLength(1);
    const alert = await api(c.url, 'GET', `/api/v1/alerts/${swapped.alertsCreated[0]}`, analyst.token);
    expect(alert.json).toMatchObject({ ruleId: 'vigil-unexpected-process', level: 'medium', status: 'open' });
    expect(alert.json.evidence.sha256).toBe(SHA_B);
    expect(alert.json.evidence.prevalence).toMatchObject({ agents: 1, fleetAgents: 2 });
    expect(alert.json.evidence.prevalence.summary).toMatch(/^on 1 of 2 workstations, first seen \d{4}-/);

    // Seen on a second machine: its alert reports the wider prevalence.
    const second = await c.app.ingest(a1, [processStart(a1.id, '/usr/bin/softphone', SHA_B)]);
    const secondAlert = await api(c.url, 'GET', `/api/v1/alerts/${second.alertsCreated[0]}`, analyst.token);
    expect(secondAlert.json.evidence.prevalence.agents).toBe(2);
  });

  it('approving adds the executable to the allowlist and resolves the alert', async () => {
    const raised = await c.app.ingest(a1, [processStart(a1.id, '/opt/new/tool', SHA_A)]);
    const alertId = raised.alertsCreated[0]!;
    const refused = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/approve`, analyst.token, {});
    expect(refused.json.error.code).toBe('validation_failed');
    const approved = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/approve`, analyst.token, {
      reason: 'new CRM plugin',
    });
    expect(approved.status).toBe(200);
    expect(approved.json.alert).toMatchObject({
      status: 'resolved',
      statusReason: 'approved: new CRM plugin',
    });
    expect(approved.json.allowlistEntry).toMatchObject({
      groupId: 'default',
      pathGlob: '/opt/new/tool',
      sha256: SHA_A,
    });
    const list = await api(c.url, 'GET', '/api/v1/groups/default/allowlist', analyst.token);
    expect(list.json.entries).toHaveLength(1);
    const quiet = await c.app.ingest(a2, [processStart(a2.id, '/opt/new/tool', SHA_A)]);
    expect(quiet.alertsCreated).toEqual([]);
    const audit = await c.testDb.db.query<{ action: string }>(
      `SELECT action FROM audit_log WHERE action IN ('allowlist.add', 'alert.transition') ORDER BY id`,
    );
    expect(audit.rows.map((r) => r.action)).toEqual(['allowlist.add', 'alert.transition']);
  });

  it('refuses to approve other alerts, and allowlists by glob and signer', async () => {
    const other = await c.app.ingest(a1, [
      {
        ...processStart(a1.id, '/opt/z/x'),
        type: 'capture.packet_socket',
        data: { kind: 'packet', exe: '/usr/bin/tcpdump' },
      } as never,
    ]);
    const refused = await api(
      c.url,
      'POST',
      `/api/v1/alerts/${other.alertsCreated[0]}/approve`,
      analyst.token,
      { reason: 'x' },
    );
    expect(refused.status).toBe(400);
    expect(refused.json.error.code).toBe('not_unexpected_process');

    // Allowlisting needs the analyst role, as approving from the alert does: viewers are refused.
    const viewer = await userWithRole(c.url, 'viewer');
    const denied = await api(c.url, 'POST', '/api/v1/groups/default/allowlist', viewer.token, {
      pathGlob: '/opt/vendor/*',
      reason: 'x',
    });
    expect(denied.status).toBe(403);
    const added = await api(c.url, 'POST', '/api/v1/groups/default/allowlist', manager.token, {
      pathGlob: '/opt/vendor/*',
      signer: 'Vendor Ltd',
      reason: 'vendor suite',
    });
    expect(added.status).toBe(201);
    const signed = {
      ...processStart(a1.id, '/opt/vendor/bin/agent'),
      data: { ...processStart(a1.id, '/opt/vendor/bin/agent').data, signer: 'Vendor Ltd' },
    };
    expect((await c.app.ingest(a1, [signed as never])).alertsCreated).toEqual([]);
    expect(
      (await c.app.ingest(a1, [processStart(a1.id, '/opt/vendor/bin/unsigned')])).alertsCreated,
    ).toHaveLength(1);
  });
});
