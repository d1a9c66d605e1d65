// How the running rule set is configured: placeholder values for `expand`, --rules-dir rules that
// replace built-ins (and duplicate ids refused), the unexpected-process detection listed and
// switched like a rule, and the packet-socket rule consulting the group's process allowlist.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
// How the running rule set is configured: placeholder values for `expand`, --rules-dir rules that
// replace built-ins (and duplicate ids refused), the unexpected-process detection listed and
// switched like a rule, and the packet-socket rule consulting the group's process allowlist.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentRecord } from '../../../collector/agents/repository.js';
import type { CollectorConfig } from '../../../collector/config.js';
import { loadRules } from '../../../collector/detection/loader.js';
import { parsePlaceholders } from '../../../collector/detection/placeholders.js';
import { loadDetectionRules, PACKET_SOCKET_RULE_ID } from '../../../collector/detection/plugin.js';
import { rulesCommand } from '../../../collector/detection/rules-cli.js';
import { packetSocketEvent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { enrolledAgent, processStart } from '../alerts/fixtures.js';
import { api } from '../auth/helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vigil-rules-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string): string => {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
};

const ADMIN_HOSTS_ID = '7d0c3b52-8a41-4f5e-b3a6-0f2f6c9e1a01';
const adminHostsRule = (id = ADMIN_HOSTS_ID) => `title: Capture Tool On An Admin Host
id: ${id}
logsource:
    category: process_creation
detection:
    selection:
        Computer|expand: '%admin_hosts%'
        Image|endswith: '/tcpdump'
    condition: selection
level: low
`;
const replacementRule = `title: Packet Socket (site version)
id: ${PACKET_SOCKET_RULE_ID}
logsource:
    category: packet_capture
detection:
    selection:
        Kind: packet
    filter:
        Image|startswith: '/opt/site-approved/'
    condition: selection and not filter
level: medium
`;

const placeholdersFile = write('placeholders.yml', 'admin_hosts:\n  - ADM-01\n  - "ADM-*"\nunused: 42\n');
const withPlaceholders = write('with-placeholders/admin.yml', adminHostsRule());
const siteDir = path.join(dir, 'site');
write('site/admin.yml', adminHostsRule());
write('site/packet.yml', replacementRule);
const duplicateDir = path.join(dir, 'duplicates');
write('duplicates/a.yml', adminHostsRule('9a9a9a9a-0000-4000-8000-000000000001'));
write('duplicates/b.yml', adminHostsRule('9a9a9a9a-0000-4000-8000-000000000001'));
write('duplicates/c.yml', adminHostsRule('9a9a9a9a-0000-4000-8000-000000000002'));
const events = write(
  'hosts.jsonl',
  [
    { Computer: 'ADM-01', Image: '/usr/bin/tcpdump' },
    { Computer: 'adm-77', Image: '/usr/sbin/tcpdump' },
    { Computer: 'WS-0042', Image: '/usr/bin/tcpdump' },
  ]
    .map((e) => JSON.stringify(e))
    .join('\n'),
);

function recordingLog() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  return {
    lines,
    info: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'info', obj, msg }),
    error: (obj: Record<string, unknown>, msg: string) => lines.push({ level: 'error', obj, msg }),
  };
}

describe('Sigma placeholders (expand)', () => {
  it('reads a YAML map of name → values; a scalar is a one-value list', () => {
    expect(parsePlaceholders('a: [x, y]\nb: 3\n')).toEqual({ a: ['x', 'y'], b: ['3'] });
    expect(() => parsePlaceholders('- x\n', 'p.yml')).toThrow(/p\.yml: must be a map/);
    expect(() => parsePlaceholders('a: {b: 1}\n', 'p.yml')).toThrow(/placeholder a must be/);
  });

  it('rules test matches with the placeholders file and refuses the rule clearly without it', async () => {
    const matched = await rulesCommand([
      'test',
      withPlaceholders,
      events,
      '--sigma-placeholders',
      placeholdersFile,
    ]);
    expect(matched.exitCode).toBe(0);
    expect(matched.output).toContain('line 1: MATCH');
    expect(matched.output).toContain('line 2: MATCH');
    expect(matched.output).toContain('2 of 3 events matched');

    const viaEnv = await rulesCommand(['test', withPlaceholders, events], {
      VIGIL_SIGMA_PLACEHOLDERS: placeholdersFile,
    });
    expect(viaEnv.output).toContain('2 of 3 events matched');

    const refused = await rulesCommand(['test', withPlaceholders, events], {});
    expect(refused.exitCode).toBe(2);
    expect(refused.output).toContain(ADMIN_HOSTS_ID);
    expect(refused.output).toMatch(/placeholder %admin_hosts% has no values configured/);
  });

  it('rules lint compiles expand rules only with the placeholders', async () => {
    const dirOnly = path.dirname(withPlaceholders);
    expect((await rulesCommand(['lint', dirOnly, '--sigma-placeholders', placeholdersFile])).exitCode).toBe(
      0,
    );
    const without = await rulesCommand(['lint', dirOnly], {});
    expect(without.exitCode).toBe(1);
    expect(without.output).toContain('sigma_unsupported');
  });

  it('loads --rules-dir expand rules with the placeholders, refuses them (logged) without', () => {
    const placeholders = { admin_hosts: ['ADM-01'] };
    const withValues = loadDetectionRules(siteDir, placeholders, recordingLog());
    const rule = withValues.find((r) => r.id === ADMIN_HOSTS_ID);
    expect(rule?.match({ Computer: 'adm-01', Image: '/usr/bin/tcpdump' })).toBe(true);
    expect(rule?.match({ Computer: 'WS-1', Image: '/usr/bin/tcpdump' })).toBe(false);

    const log = recordingLog();
    const withoutValues = loadDetectionRules(siteDir, {}, log);
    expect(withoutValues.some((r) => r.id === ADMIN_HOSTS_ID)).toBe(false);
    const refusal = log.lines.find((l) => l.level === 'error');
    expect(refusal?.obj).toMatchObject({ code: 'sigma_unsupported', ruleId: ADMIN_HOSTS_ID });
    expect(String(refusal?.obj.reason)).toMatch(/placeholder %admin_hosts% has no values configured/);
  });
});

describe('rule ids across sources', () => {
  it('lets a --rules-dir rule replace the built-in with its id, logged once at info', () => {
    const log = recordingLog();
    const rules = loadDetectionRules(siteDir, { admin_hosts: ['ADM-01'] }, log);
    const packetRules = rules.filter((r) => r.id === PACKET_SOCKET_RULE_ID);
    expect(packetRules).toHaveLength(1);
    expect(packetRules[0]!.title).toBe('Packet Socket (site version)');
    const replaced = log.lines.filter((l) => l.msg.includes('replaces the built-in'));
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).toMatchObject({ level: 'info', obj: { ruleId: PACKET_SOCKET_RULE_ID } });
  });

  it('refuses every file of one folder that shares an id, and keeps the others', () => {
    const loaded = loadRules(duplicateDir, { placeholders: { admin_hosts: ['x'] } });
    expect(loaded.rules.map((r) => r.id)).toEqual(['9a9a9a9a-0000-4000-8000-000000000002']);
    expect(loaded.refused).toHaveLength(2);
    for (const refused of loaded.refused) {
      expect(refused).toMatchObject({
        code: 'sigma_duplicate_id',
        ruleId: '9a9a9a9a-0000-4000-8000-000000000001',
      });
      expect(refused.reason).toContain('a.yml');
      expect(refused.reason).toContain('b.yml');
    }
  });
});

describe.each(engines)('configured rule set in a running collector on %s', (engine) => {
  let c: RunningCollector;
  let agent: AgentRecord;
  beforeAll(async () => {
    c = await startCollector(engine, {
      rulesDir: siteDir,
      sigmaPlaceholdersFile: placeholdersFile,
      loginRateLimitPerMinute: 1000,
    } as Partial<CollectorConfig>);
    agent = await enrolledAgent(c);
  }, 180_000);
  afterAll(async () => c?.close());

  it('runs the replacing rule once, never the built-in beside it', async () => {
    const rules = (await api(c.url, 'GET', '/api/v1/rules')).json.rules as { id: string; title: string }[];
    expect(rules.filter((r) => r.id === PACKET_SOCKET_RULE_ID).map((r) => r.title)).toEqual([
      'Packet Socket (site version)',
    ]);
    expect(rules.some((r) => r.id === ADMIN_HOSTS_ID)).toBe(true);
    const result = await c.app.ingest(agent, [
      packetSocketEvent(agent.id, { exe: '/usr/bin/dhclient-like' }),
    ]);
    const alerts = await c.testDb.db.query<{ rule_title: string; count: number }>(
      'SELECT rule_title, count FROM alerts WHERE id = ANY($1::uuid[])',
      [result.alertsCreated],
    );
    expect(alerts.rows).toEqual([{ rule_title: 'Packet Socket (site version)', count: 1 }]);
  });

  it('compiles uploads with the configured placeholders', async () => {
    const uploaded = await api(c.url, 'POST', '/api/v1/rules', undefined, {
      yaml: adminHostsRule('5f1e2d3c-4b5a-4697-8887-000000000010'),
    });
    expect(uploaded.status).toBe(201);
    const tested = await api(c.url, 'POST', '/api/v1/rules/test', undefined, {
      yaml: adminHostsRule('5f1e2d3c-4b5a-4697-8887-000000000011').replace('%admin_hosts%', '%nobody%'),
    });
    expect(tested.status).toBe(400);
    expect(tested.json.error).toMatchObject({ code: 'sigma_unsupported' });
    expect(tested.json.error.reason).toMatch(/placeholder %nobody% has no values configured/);
  });

  it('lists the unexpected-process detection as a built-in baseline rule that can be switched off', async () => {
    const listed = (await api(c.url, 'GET', '/api/v1/rules')).json.rules as Array<Record<string, unknown>>;
    expect(listed.find((r) => r.id === 'vigil-unexpected-process')).toMatchObject({
      kind: 'baseline',
      source: 'builtin',
      level: 'medium',
      enabled: true,
    });
    expect(listed.filter((r) => r.kind === 'sigma').length).toBeGreaterThan(10);
    await api(c.url, 'PUT', '/api/v1/groups/default/baseline', undefined, { learningDays: 0 });

    const off = await api(c.url, 'POST', '/api/v1/rules/vigil-unexpected-process/disable');
    expect(off).toMatchObject({ status: 200, json: { enabled: false } });
    const quiet = await c.app.ingest(agent, [processStart(agent.id, '/opt/never-seen/one', 'c'.repeat(64))]);
    expect(quiet.alertsCreated).toEqual([]);

    const on = await api(c.url, 'POST', '/api/v1/rules/vigil-unexpected-process/enable');
    expect(on).toMatchObject({ status: 200, json: { enabled: true } });
    const loud = await c.app.ingest(agent, [processStart(agent.id, '/opt/never-seen/two', 'd'.repeat(64))]);
    expect(loud.alertsCreated).toHaveLength(1);
    // The baseline kept its sightings while the alert was off.
    const { rows } = await c.testDb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM executable_sightings WHERE exe_path = '/opt/never-seen/one'`,
    );
    expect(rows[0]!.n).toBe(1);
  });
});

describe.each(engines)('packet-socket holders and the group allowlist on %s', (engine) => {
  let c: RunningCollector;
  let agent: AgentRecord;
  beforeAll(async () => {
    c = await startCollector(engine);
    agent = await enrolledAgent(c);
  }, 180_000);
  afterAll(async () => c?.close());

  it('does not raise the packet-socket alert for an executable the group allows', async () => {
    const entry = await api(c.url, 'POST', '/api/v1/groups/default/allowlist', undefined, {
      pathGlob: '/opt/netmon/*',
      reason: 'network monitoring probe',
    });
    expect(entry.status).toBe(201);
    const allowed = await c.app.ingest(agent, [
      packetSocketEvent(agent.id, { exe: '/opt/netmon/probe', name: 'probe', inode: 11 }),
    ]);
    expect(allowed.stored).toBe(1);
    expect([...allowed.alertsCreated, ...allowed.alertsUpdated]).toEqual([]);
    const other = await c.app.ingest(agent, [
      packetSocketEvent(agent.id, { exe: '/opt/elsewhere/probe', name: 'probe', inode: 12 }),
    ]);
    expect(other.alertsCreated).toHaveLength(1);
    const { rows } = await c.testDb.db.query<{ rule_id: string }>(
      'SELECT rule_id FROM alerts WHERE id = $1',
      [other.alertsCreated[0]],
    );
    expect(rows[0]!.rule_id).toBe(PACKET_SOCKET_RULE_ID);
  });
});
