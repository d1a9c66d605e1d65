import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CollectorConfig } from '../../../collector/config.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, PASSWORD, userWithRole } from '../auth/helpers.js';

describe.each(engines)('users admin API on %s', (engine) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(engine, { loginRateLimitPerMinute: 1000 } as Partial<CollectorConfig>);
  }, 180_000);
  afterAll(async () => c?.close());

  it('creates users with hashed passwords and refuses taken names and short passwords', async () => {
    const created = await api(c.url, 'POST', '/api/v1/users', undefined, {
      username: 'dana',
      role: 'analyst',
      password: PASSWORD,
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      username: 'dana',
      role: 'analyst',
      hasPassword: true,
      disabledAt: null,
    });
    const { rows } = await c.testDb.db.query<{ password_hash: string }>(
      `SELECT password_hash FROM users WHERE username = 'dana'`,
    );
    expect(rows[0]!.password_hash).toMatch(/^scrypt\$/);
    expect(rows[0]!.password_hash).not.toContain(PASSWORD);
    const taken = await api(c.url, 'POST', '/api/v1/users', undefined, { username: 'dana', role: 'viewer' });
    expect(taken.status).toBe(409);
    expect(taken.json.error.code).toBe('username_taken');
    const short = await api(c.url, 'POST', '/api/v1/users', undefined, {
      username: 'eve',
      role: 'viewer',
      password: 'short',
    });
    expect(short.status).toBe(400);
    const list = await api(c.url, 'GET', '/api/v1/users');
    expect(list.json.users.map((u: { username: string }) => u.username)).toEqual(
      expect.arrayContaining(['admin', 'dana']),
    );
    expect(JSON.stringify(list.json)).not.toContain('scrypt');
  });

  it('changes roles with the change audited before and after', async () => {
    const user = await userWithRole(c.url, 'viewer');
    const changed = await api(c.url, 'PATCH', `/api/v1/users/${user.id}`, undefined, {
      role: 'incident_manager',
    });
    expect(changed.json.role).toBe('incident_manager');
    expect((await api(c.url, 'GET', '/api/v1/auth/me', user.token)).json.role).toBe('incident_manager');
    const { rows } = await c.testDb.db.query<{ before: { role: string }; after: { role: string } }>(
      `SELECT before, after FROM audit_log WHERE action = 'user.update' AND target_id = $1`,
      [user.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.before.role).toBe('viewer');
    expect(rows[0]!.after.role).toBe('incident_manager');
  });

  it('resets a password, ending the old sessions', async () => {
    const user = await userWithRole(c.url, 'analyst');
    const newPassword = 'a brand new passphrase';
    expect(
      (await api(c.url, 'POST', `/api/v1/users/${user.id}/password`, undefined, { password: newPassword }))
        .status,
    ).toBe(204);
    expect((await api(c.url, 'GET', '/api/v1/auth/me', user.token)).status).toBe(401);
    expect(
      (await api(c.url, 'POST', '/api/v1/auth/login', null, { username: user.username, password: PASSWORD }))
        .status,
    ).toBe(401);
    expect(
      (
        await api(c.url, 'POST', '/api/v1/auth/login', null, {
          username: user.username,
          password: newPassword,
        })
      ).status,
    ).toBe(200);
    const missing = await api(
      c.url,
      'POST',
      '/api/v1/users/00000000-0000-4000-8000-000000000000/password',
      undefined,
      {
        password: newPassword,
      },
    );
    expect(missing.status).toBe(404);
  });

  it('never demotes or disables the last enabled admin', async () => {
    const { rows } = await c.testDb.db.query<{ id: string }>(`SELECT id FROM users WHERE username = 'admin'`);
    const adminId = rows[0]!.id;
    const demote = await api(c.url, 'PATCH', `/api/v1/users/${adminId}`, undefined, { role: 'viewer' });
    expect(demote.status).toBe(409);
    expect(demote.json.error.code).toBe('last_admin');
    const second = await userWithRole(c.url, 'admin');
    const disabled = await api(c.url, 'PATCH', `/api/v1/users/${adminId}`, second.token, { disabled: true });
    expect(disabled.status).toBe(200);
    const self = await api(c.url, 'PATCH', `/api/v1/users/${second.id}`, second.token, { disabled: true });
    expect(self.json.error.code).toBe('last_admin');
    // Re-enable the bootstrap admin for the other tests' token.
    expect(
      (await api(c.url, 'PATCH', `/api/v1/users/${adminId}`, second.token, { disabled: false })).status,
    ).toBe(200);
  });
});
