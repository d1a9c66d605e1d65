import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../../collector/auth/passwords.js';
import { hashToken } from '../../../collector/auth/tokens.js';
import type { CollectorConfig } from '../../../collector/config.js';
import { enrollAgent } from '../../helpers/agent-client.js';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, PASSWORD, userWithRole } from './helpers.js';

describe('password hashing', () => {
  it('salts each hash, stores its parameters and verifies only the right password', async () => {
    const a = await hashPassword('hunter2hunter2');
    const b = await hashPassword('hunter2hunter2');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('hunter2hunter2', a)).toBe(true);
    expect(await verifyPassword('hunter2hunter3', a)).toBe(false);
    expect(await verifyPassword('hunter2hunter2', null)).toBe(false);
    expect(await verifyPassword('hunter2hunter2', a.replace('scrypt$16384', 'scrypt$99999999'))).toBe(false);
    expect(await verifyPassword('x', 'garbage')).toBe(false);
  });
});

describe.each(engines)('login, sessions and API tokens on %s', (engine) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(engine, { loginRateLimitPerMinute: 1000 } as Partial<CollectorConfig>);
  }, 180_000);
  afterAll(async () => c?.close());

  it('logs in with the right password only, with one answer for unknown users and wrong passwords', async () => {
    const user = await userWithRole(c.url, 'analyst');
    const me = await api(c.url, 'GET', '/api/v1/auth/me', user.token);
    expect(me.json).toEqual({ userId: user.id, username: user.username, role: 'analyst', via: 'session' });
    const wrong = await api(c.url, 'POST', '/api/v1/auth/login', null, {
      username: user.username,
      password: 'wrong password!',
    });
    const unknown = await api(c.url, 'POST', '/api/v1/auth/login', null, {
      username: 'nobody',
      password: PASSWORD,
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json).toEqual(unknown.json);
    expect(wrong.json.error.code).toBe('login_failed');
    const { rows } = await c.testDb.db.query<{ token_hash: string }>(
      'SELECT token_hash FROM sessions WHERE user_id = $1',
      [user.id],
    );
    expect(rows).toEqual([{ token_hash: hashToken(user.token) }]);
    const failures = await c.testDb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'auth.login_failed' AND actor_name IN ($1, 'nobody')`,
      [user.username],
    );
    expect(failures.rows[0]!.n).toBe(2);
  });

  it('ends a session on logout, and refuses expired sessions', async () => {
    const user = await userWithRole(c.url, 'viewer');
    expect((await api(c.url, 'POST', '/api/v1/auth/logout', user.token)).status).toBe(204);
    expect((await api(c.url, 'GET', '/api/v1/auth/me', user.token)).status).toBe(401);
    const again = await api(c.url, 'POST', '/api/v1/auth/login', null, {
      username: user.username,
      password: PASSWORD,
    });
    await c.testDb.db.query(
      `UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = $1`,
      [user.id],
    );
    expect((await api(c.url, 'GET', '/api/v1/auth/me', again.json.token)).status).toBe(401);
  });

  it('creates personal tokens shown once, lists them without secrets, revokes only your own', async () => {
    const user = await userWithRole(c.url, 'analyst');
    const other = await userWithRole(c.url, 'analyst');
    const created = await api(c.url, 'POST', '/api/v1/tokens', user.token, { name: 'siem export' });
    expect(created.status).toBe(201);
    expect(created.json.token).toMatch(/^vgl_/);
    expect((await api(c.url, 'GET', '/api/v1/alerts', created.json.token)).status).toBe(200);
    const listed = await api(c.url, 'GET', '/api/v1/tokens', user.token);
    expect(listed.json.tokens).toHaveLength(1);
    expect(JSON.stringify(listed.json)).not.toContain(created.json.token);
    expect((await api(c.url, 'DELETE', `/api/v1/tokens/${created.json.id}`, other.token)).status).toBe(404);
    const logoutWithToken = await api(c.url, 'POST', '/api/v1/auth/logout', created.json.token);
    expect(logoutWithToken.json.error.code).toBe('not_a_session');
    const revoked = await api(c.url, 'DELETE', `/api/v1/tokens/${created.json.id}`, user.token);
    expect(revoked.status).toBe(200);
    expect(revoked.json.revokedAt).not.toBeNull();
    expect((await api(c.url, 'GET', '/api/v1/alerts', created.json.token)).status).toBe(401);
    const audit = await c.testDb.db.query<{ action: string }>(
      `SELECT action FROM audit_log WHERE target_id = $1 ORDER BY id`,
      [created.json.id],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(['token.create', 'token.revoke']);
  });

  it('refuses every credential of a disabled user', async () => {
    const user = await userWithRole(c.url, 'analyst');
    const token = await api(c.url, 'POST', '/api/v1/tokens', user.token, { name: 'cli' });
    expect(
      (await api(c.url, 'PATCH', `/api/v1/users/${user.id}`, undefined, { disabled: true })).status,
    ).toBe(200);
    expect((await api(c.url, 'GET', '/api/v1/auth/me', user.token)).status).toBe(401);
    expect((await api(c.url, 'GET', '/api/v1/auth/me', token.json.token)).status).toBe(401);
    const login = await api(c.url, 'POST', '/api/v1/auth/login', null, {
      username: user.username,
      password: PASSWORD,
    });
    expect(login.status).toBe(401);
  });

  it('authenticates before validating: strangers get 401, not the shape of the body', async () => {
    const res = await api(c.url, 'POST', '/api/v1/users', null, { nonsense: true });
    expect(res.status).toBe(401);
  });
});

describe('rate limits and headers', () => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(engines[0]!, {
      loginRateLimitPerMinute: 3,
      enrollRateLimitPerMinute: 2,
    } as Partial<CollectorConfig>);
  }, 180_000);
  afterAll(async () => c?.close());

  it('limits login attempts per IP', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(
        (await api(c.url, 'POST', '/api/v1/auth/login', null, { username: 'x', password: 'y' })).status,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const limited = await api(c.url, 'POST', '/api/v1/auth/login', null, { username: 'x', password: 'y' });
    expect(limited.json.error.code).toBe('rate_limited');
  });

  it('limits enrollment per IP', async () => {
    await enrollAgent(c.url);
    await enrollAgent(c.url);
    await expect(enrollAgent(c.url)).rejects.toThrow(/429/);
  });

  it('sends security headers, without a CSP that would break the API docs', async () => {
    const res = await fetch(`${c.url}/healthz`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=/);
    expect(res.headers.get('content-security-policy')).toBeNull();
    const docs = await fetch(`${c.url}/docs/json`);
    expect(docs.status).toBe(200);
  });
});
