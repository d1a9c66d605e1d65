// Admins list and revoke another user's personal API tokens; the revoked token stops working and
// the revocation is audited. Only admins may (the route walk in routes-roles covers every role).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CollectorConfig } from '../../../collector/config.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, userWithRole } from '../auth/helpers.js';

describe.each(engines)("admin management of a user's tokens on %s", (engine) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(engine, { loginRateLimitPerMinute: 1000 } as Partial<CollectorConfig>);
  }, 180_000);
  afterAll(async () => c?.close());

  it("lists a user's tokens without secrets and revokes one", async () => {
    const owner = await userWithRole(c.url, 'analyst');
    const made = await api(c.url, 'POST', '/api/v1/tokens', owner.token, { name: 'laptop script' });
    expect(made.status).toBe(201);
    expect((await api(c.url, 'GET', '/api/v1/auth/me', made.json.token)).status).toBe(200);

    const listed = await api(c.url, 'GET', `/api/v1/users/${owner.id}/tokens`);
    expect(listed.status).toBe(200);
    expect(listed.json.tokens).toEqual([
      expect.objectContaining({ id: made.json.id, name: 'laptop script', revokedAt: null }),
    ]);
    expect(JSON.stringify(listed.json)).not.toContain(made.json.token);

    const revoked = await api(c.url, 'DELETE', `/api/v1/users/${owner.id}/tokens/${made.json.id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json.revokedAt).toEqual(expect.any(String));
    expect((await api(c.url, 'GET', '/api/v1/auth/me', made.json.token)).status).toBe(401);
    const again = await api(c.url, 'DELETE', `/api/v1/users/${owner.id}/tokens/${made.json.id}`);
    expect(again.status).toBe(404);

    const audit = await api(c.url, 'GET', `/api/v1/audit?action=token.revoke&targetId=${made.json.id}`);
    expect(audit.json.entries).toMatchObject([{ actorName: 'admin', after: { userId: owner.id } }]);
  });

  it('refuses a token of another user and an unknown user', async () => {
    const owner = await userWithRole(c.url, 'viewer');
    const other = await userWithRole(c.url, 'viewer');
    const made = await api(c.url, 'POST', '/api/v1/tokens', owner.token, { name: 'x' });
    expect((await api(c.url, 'DELETE', `/api/v1/users/${other.id}/tokens/${made.json.id}`)).status).toBe(404);
    const unknown = await api(c.url, 'GET', '/api/v1/users/00000000-0000-4000-8000-000000000000/tokens');
    expect(unknown.status).toBe(404);
  });

  it('is refused to non-admins', async () => {
    const manager = await userWithRole(c.url, 'incident_manager');
    const res = await api(c.url, 'GET', `/api/v1/users/${manager.id}/tokens`, manager.token);
    expect(res.status).toBe(403);
  });
});
