// Every console route declares its access like the API does: anonymous → 401, a role below the
// route's → 403, the route's role or above → neither (here with Bearer session tokens, which need
// no CSRF token because they are not ambient). Only the login page and static files are public.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Role, roles } from '../../collector/auth/roles.js';
import { userWithRole } from '../collector/auth/helpers.js';
import { type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';

const placeholder = '00000000-0000-4000-8000-000000000000';

describe('console route roles', { timeout: 120_000 }, () => {
  let collector: RunningCollector;
  const tokens = {} as Record<Role, string>;
  beforeAll(async () => {
    collector = await startCollector(engines[0]!);
    for (const role of roles) tokens[role] = (await userWithRole(collector.url, role)).token;
  }, 180_000);
  afterAll(async () => collector?.close());

  const consoleRoutes = () =>
    collector.app.routeAccess.filter((r) => r.method !== 'HEAD' && r.url.startsWith('/console'));

  it('makes only the login page and static files public', () => {
    const publicRoutes = consoleRoutes()
      .filter((r) => r.access === 'public')
      .map((r) => `${r.method} ${r.url}`)
      .sort();
    expect(publicRoutes).toEqual(['GET /console/login', 'GET /console/static/:file', 'POST /console/login']);
    expect(consoleRoutes().filter((r) => r.access === 'undeclared')).toEqual([]);
  });

  it('answers 401 anonymously, 403 below the role and neither at or above it', async () => {
    const guarded = consoleRoutes().filter((r) => roles.includes(r.access as Role));
    expect(guarded.length).toBeGreaterThan(15);
    const failures: string[] = [];
    for (const route of guarded) {
      const path = route.url
        .replace(':key', 'contain-isolate')
        .replace(/:[A-Za-z]+/g, () => (route.url.includes('/groups/') ? 'default' : placeholder));
      const send = (token?: string) =>
        fetch(`${collector.url}${path}`, {
          method: route.method,
          redirect: 'manual',
          headers: {
            ...(token && { authorization: `Bearer ${token}` }),
            ...(route.method === 'POST' && { 'content-type': 'application/x-www-form-urlencoded' }),
          },
          body: route.method === 'POST' ? '' : undefined,
        });
      const anonymous = await send();
      if (anonymous.status !== 401)
        failures.push(`${route.method} ${route.url} anonymous → ${anonymous.status}`);
      for (const role of roles) {
        if (route.url === '/console/logout') continue;
        const { status } = await send(tokens[role]);
        const allowed = roles.indexOf(role) >= roles.indexOf(route.access as Role);
        if (allowed && (status === 401 || status === 403))
          failures.push(`${route.method} ${route.url} ${role} → ${status}`);
        if (!allowed && status !== 403)
          failures.push(`${route.method} ${route.url} ${role} → ${status}, wanted 403`);
      }
    }
    expect(failures).toEqual([]);
  });
});
