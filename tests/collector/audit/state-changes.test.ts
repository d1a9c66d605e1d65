// Every state change an admin, analyst or agent makes leaves an audit record, written in the
// change's own transaction, and no record carries a secret (enroll secrets, tokens, passwords).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CollectorConfig } from '../../../collector/config.js';
import { enrollAgent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { enrolledAgent, raiseAlert } from '../alerts/fixtures.js';
import { api, PASSWORD } from '../auth/helpers.js';

const RULE_YAML = `title: Audit Test Rule
id: 0b7e4d6a-52c1-4f0e-9a43-5f3a4f6b2c11
logsource:
    category: process_creation
detection:
    selection:
        Image|endswith: '/audit-test'
    condition: selection
level: low
`;

describe.each(engines)('audit records of state changes on %s', (engine) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(engine, { loginRateLimitPerMinute: 1000 } as Partial<CollectorConfig>);
  }, 180_000);
  afterAll(async () => c?.close());

  const entries = async (action: string, targetId?: string) => {
    const query = `/api/v1/audit?action=${encodeURIComponent(action)}${targetId ? `&targetId=${targetId}` : ''}`;
    const res = await api(c.url, 'GET', query);
    expect(res.status).toBe(200);
    return res.json.entries as Array<{
      actorName: string;
      targetId: string;
      before: unknown;
      after: unknown;
    }>;
  };

  it('records fleet changes and enrollment without the secrets', async () => {
    const group = await api(c.url, 'POST', '/api/v1/groups', undefined, { id: 'audited', name: 'Audited' });
    expect(group.status).toBe(201);
    const rotated = await api(c.url, 'POST', '/api/v1/groups/audited/secret');
    expect(rotated.status).toBe(200);
    const policy = await api(c.url, 'PUT', '/api/v1/groups/audited/policy', undefined, {
      scanIntervalMs: 2000,
    });
    expect(policy.status).toBe(200);
    const enrolled = (await enrollAgent(c.url, rotated.json.enrollSecret)) as {
      agentId: string;
      token: string;
    };
    const revoked = await api(c.url, 'POST', `/api/v1/agents/${enrolled.agentId}/revoke`);
    expect(revoked.status).toBe(200);

    const [created] = await entries('group.create', 'audited');
    expect(created).toMatchObject({ actorName: 'admin', after: { id: 'audited', name: 'Audited' } });
    const [rotation] = await entries('group.secret_rotate', 'audited');
    expect(rotation).toBeDefined();
    const [policyChange] = await entries('group.policy_change', 'audited');
    expect(policyChange).toMatchObject({ after: { scanIntervalMs: 2000 } });
    expect((policyChange!.before as { scanIntervalMs: number }).scanIntervalMs).not.toBe(2000);
    const [enrollment] = await entries('agent.enroll', enrolled.agentId);
    expect(enrollment).toMatchObject({
      actorName: expect.stringMatching(/^agent:/),
      after: { group: 'audited' },
    });
    const [revocation] = await entries('agent.revoke', enrolled.agentId);
    expect(revocation).toMatchObject({ actorName: 'admin' });

    const { rows } = await c.testDb.db.query<{ text: string }>(
      'SELECT row_to_json(a)::text AS text FROM audit_log a',
    );
    const log = rows.map((r) => r.text).join('\n');
    for (const secret of [group.json.enrollSecret, rotated.json.enrollSecret, enrolled.token]) {
      expect(log).not.toContain(secret);
    }
  });

  it('records users and tokens, rules, allowlist entries and exceptions', async () => {
    const user = await api(c.url, 'POST', '/api/v1/users', undefined, {
      username: 'audited-user',
      role: 'analyst',
      password: PASSWORD,
    });
    expect(user.status).toBe(201);
    const login = await api(c.url, 'POST', '/api/v1/auth/login', null, {
      username: 'audited-user',
      password: PASSWORD,
    });
    const token = await api(c.url, 'POST', '/api/v1/tokens', login.json.token, { name: 'script' });
    expect(token.status).toBe(201);
    const ownRevoke = await api(c.url, 'DELETE', `/api/v1/tokens/${token.json.id}`, login.json.token);
    expect(ownRevoke.status).toBe(200);
    const second = await api(c.url, 'POST', '/api/v1/tokens', login.json.token, { name: 'other' });
    const adminRevoke = await api(c.url, 'DELETE', `/api/v1/users/${user.json.id}/tokens/${second.json.id}`);
    expect(adminRevoke.status).toBe(200);
    const disabled = await api(c.url, 'PATCH', `/api/v1/users/${user.json.id}`, undefined, {
      disabled: true,
    });
    expect(disabled.status).toBe(200);

    expect(await entries('user.create', user.json.id)).toHaveLength(1);
    const [disabling] = await entries('user.update', user.json.id);
    expect(disabling).toMatchObject({
      before: { disabledAt: null },
      after: { disabledAt: expect.any(String) },
    });
    expect(await entries('token.create', token.json.id)).toHaveLength(1);
    expect(await entries('token.create', second.json.id)).toHaveLength(1);
    expect(await entries('token.revoke', token.json.id)).toHaveLength(1);
    const [byAdmin] = await entries('token.revoke', second.json.id);
    expect(byAdmin).toMatchObject({ actorName: 'admin', after: { userId: user.json.id } });

    const uploaded = await api(c.url, 'POST', '/api/v1/rules', undefined, { yaml: RULE_YAML });
    expect(uploaded.status).toBe(201);
    const ruleId = uploaded.json.id as string;
    expect((await api(c.url, 'POST', `/api/v1/rules/${ruleId}/disable`)).status).toBe(200);
    expect((await api(c.url, 'POST', `/api/v1/rules/${ruleId}/enable`)).status).toBe(200);
    expect(await entries('rule.upload', ruleId)).toHaveLength(1);
    expect(await entries('rule.disable', ruleId)).toMatchObject([{ after: { enabled: false } }]);
    expect(await entries('rule.enable', ruleId)).toMatchObject([{ after: { enabled: true } }]);

    const entry = await api(c.url, 'POST', '/api/v1/groups/default/allowlist', undefined, {
      pathGlob: '/opt/audited/*',
      reason: 'audit test',
    });
    expect(entry.status).toBe(201);
    expect((await api(c.url, 'DELETE', `/api/v1/groups/default/allowlist/${entry.json.id}`)).status).toBe(
      200,
    );
    expect(await entries('allowlist.add', entry.json.id)).toHaveLength(1);
    expect(await entries('allowlist.remove', entry.json.id)).toHaveLength(1);

    const agent = await enrolledAgent(c);
    const { alertId } = await raiseAlert(c, agent, { exe: '/opt/audited/sniff', name: 'sniff' });
    const exception = await api(c.url, 'POST', `/api/v1/alerts/${alertId}/exceptions`, undefined, {
      scope: 'agent',
      reason: 'audit test',
    });
    expect(exception.status).toBe(201);
    expect((await api(c.url, 'DELETE', `/api/v1/exceptions/${exception.json.id}`)).status).toBe(200);
    expect(await entries('exception.create', exception.json.id)).toHaveLength(1);
    expect(await entries('exception.revoke', exception.json.id)).toHaveLength(1);

    const { rows } = await c.testDb.db.query<{ text: string }>(
      'SELECT row_to_json(a)::text AS text FROM audit_log a',
    );
    const log = rows.map((r) => r.text).join('\n');
    for (const secret of [token.json.token, second.json.token, login.json.token, PASSWORD]) {
      expect(log).not.toContain(secret);
    }
  });
});
