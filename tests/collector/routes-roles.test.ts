// Walks every route the app registers with every role: no token → 401, a role below the route's
// → 403, the route's role or above → neither. A route that declares no role must say it is public.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Role, roles } from '../../collector/auth/roles.js';
import { type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';
import { api, userWithRole } from './auth/helpers.js';

const rank = (role: Role) => roles.indexOf(role);
// Public on purpose: agents enroll with a group secret and stream with an agent token; people log in.
const knownPublic = new Set([
  'POST /api/v1/enroll',
  'GET /api/v1/agents/stream',
  'POST /api/v1/auth/login',
  'GET /healthz',
  // The console's login form and its static assets; /metrics checks its own scrape token.
  'GET /console',
  'GET /console/login',
  'POST /console/login',
  'GET /console/static/:file',
  'GET /metrics',
]);

async function call(baseUrl: string, method: string, path: string, token: string | null, body?: unknown) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    redirect: 'manual',
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // A live stream (the console's alert events) never ends: its status is the answer.
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, text: '' };
  }
  return { status: res.status, text: await res.text() };
}
const placeholder = '00000000-0000-4000-8000-000000000000';

describe('route roles', () => {
  let collector: RunningCollector;
  const tokens = {} as Record<Role, string>;
  beforeAll(async () => {
    collector = await startCollector(engines[0]!);
    for (const role of roles) tokens[role] = (await userWithRole(collector.url, role)).token;
  }, 180_000);
  afterAll(async () => collector?.close());

  it('every route declares a role or is a known public route', () => {
    const routes = collector.app.routeAccess.filter((r) => r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(30);
    const undeclared = routes.filter((r) => r.access === 'undeclared').map((r) => `${r.method} ${r.url}`);
    expect(undeclared).toEqual([]);
    const publicRoutes = routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.url}`);
    for (const route of publicRoutes) expect(knownPublic, `${route} is public`).toContain(route);
  });

  it('answers 401 without a token, 403 below the role and neither at or above it', async () => {
    const guarded = collector.app.routeAccess.filter(
      (r) => r.method !== 'HEAD' && roles.includes(r.access as Role),
    );
    const failures: string[] = [];
    for (const route of guarded) {
      const needed = route.access as Role;
      const path = route.url.replace(/:[A-Za-z]+/g, (name) =>
        name === ':id' && route.url.includes('/groups/') ? 'default' : placeholder,
      );
      const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;
      const anonymous = await call(collector.url, route.method, path, null, body);
      if (anonymous.status !== 401)
        failures.push(`${route.method} ${route.url} anonymous → ${anonymous.status}`);
      for (const role of roles) {
        // Logging out would end the session the next routes use.
        if (route.url.endsWith('/logout')) continue;
        const res = await call(collector.url, route.method, path, tokens[role], body);
        // Other 403s (a console form without its CSRF token) are not the role check answering.
        const refusedForRole = res.status === 403 && res.text.includes(`this needs the ${needed} role`);
        const allowed = rank(role) >= rank(needed);
        if (allowed && (res.status === 401 || refusedForRole))
          failures.push(`${route.method} ${route.url} ${role} → ${res.status}`);
        if (!allowed && !refusedForRole)
          failures.push(`${route.method} ${route.url} ${role} → ${res.status}, wanted 403`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('a wrong token is 401 with a stable code', async () => {
    const res = await api(collector.url, 'GET', '/api/v1/alerts', 'vgl_nope');
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthorized');
  });

  it('keeps the OpenAPI document valid with tags and summaries on every documented route', async () => {
    const res = await fetch(`${collector.url}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      paths: Record<string, Record<string, { tags?: string[]; summary?: string }>>;
    };
    const missing: string[] = [];
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        if (!op.tags?.length || !op.summary) missing.push(`${method} ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
