import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';

const login = (c: RunningCollector, password: string) =>
  fetch(`${c.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
  });

describe('bootstrap admin password', () => {
  const started: RunningCollector[] = [];
  afterAll(async () => {
    for (const c of started) await c.close();
  });

  it('generates one into the data directory when none is configured', async () => {
    const c = await startCollector(engines[0]!);
    started.push(c);
    const password = readFileSync(join(c.testDb.dataDir, 'admin-password'), 'utf8').trim();
    expect(password.length).toBeGreaterThanOrEqual(16);
    expect((await login(c, password)).status).toBe(200);
    expect((await login(c, `${password}x`)).status).toBe(401);
  });

  it('uses VIGIL_ADMIN_PASSWORD when given', async () => {
    const c = await startCollector(engines[0]!, { adminPassword: 'correct horse battery staple' });
    started.push(c);
    expect((await login(c, 'correct horse battery staple')).status).toBe(200);
  });
});
