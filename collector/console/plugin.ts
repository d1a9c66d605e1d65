// The security console: server-rendered pages under /console. It authenticates with a session
// cookie (resolved to the same principal the API uses), checks roles with `app.requireRole`,
// protects every POST with a CSRF token and serves a strict Content-Security-Policy.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import type { FastifyError, FastifyInstance, preHandlerHookHandler } from 'fastify';
import { bearerToken } from '../auth/tokens.js';
import type { CollectorConfig } from '../config.js';
import { VigilError } from '../errors.js';
import { registerAlertPages } from './alerts-pages.js';
import { registerAuditPages } from './audit-pages.js';
import { LoginPage, registerAuthPages } from './auth-pages.js';
import { type ConsoleDeps, safeReturn, sendHtml } from './context.js';
import { ErrorPage } from './error-page.js';
import { registerFleetPages } from './fleet-pages.js';
import { registerIncidentPages } from './incidents-pages.js';
import { registerLiveUpdates } from './live.js';
import { registerRulePages } from './rules-pages.js';
import {
  COOKIE_PATH,
  clearSessionCookie,
  resolveCookiePrincipal,
  sessionToken,
  setFlash,
} from './session.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

const staticDir = join(import.meta.dirname, 'static');
const htmxPath = createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js');

/** Static files, read once: the console's own script and style sheet, and htmx from node_modules. */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  return new Map([
    ['htmx.min.js', { body: readFileSync(htmxPath), type: 'text/javascript; charset=utf-8' }],
    [
      'console.js',
      { body: readFileSync(join(staticDir, 'console.js')), type: 'text/javascript; charset=utf-8' },
    ],
    ['console.css', { body: readFileSync(join(staticDir, 'console.css')), type: 'text/css; charset=utf-8' }],
  ]);
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The console's CSRF check (cookie sessions); only decorated inside the console plugin. */
    consoleCsrf: preHandlerHookHandler;
  }
}

/** Routes use absolute /console paths; the plugin is encapsulated (not fastify-plugin). */
export default async function consolePlugin(app: FastifyInstance, opts: { config: CollectorConfig }) {
  const deps: ConsoleDeps = {
    config: opts.config,
    cookies: { secure: opts.config.tls !== undefined ? true : 'auto' },
  };
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 512 * 1024 });
  await app.register(csrf, {
    cookieKey: 'vigil_csrf',
    cookieOpts: { path: COOKIE_PATH, httpOnly: true, sameSite: 'strict', secure: deps.cookies.secure },
    getToken: (request) =>
      (request.body as { _csrf?: string } | undefined)?._csrf ?? request.headers['x-csrf-token']?.toString(),
  });

  // A request that carries no session cookie but a Bearer token has no ambient credential a
  // forged cross-site form could ride on: CSRF checks apply to cookie sessions only.
  const csrfForCookieSessions: preHandlerHookHandler = (request, reply, done) => {
    if (!sessionToken(request) && bearerToken(request.headers.authorization)) return done();
    return app.csrfProtection(request, reply, done);
  };
  app.decorate('consoleCsrf', csrfForCookieSessions);

  // Runs before each route's own onRequest role check, which then finds the principal set.
  app.addHook('onRequest', async (request) => {
    await resolveCookiePrincipal(app.db, request);
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    if (
      !String(reply.getHeader('content-type') ?? '').startsWith('text/javascript') &&
      !String(reply.getHeader('content-type') ?? '').startsWith('text/css')
    ) {
      reply.header('cache-control', 'no-store');
    }
    return payload;
  });

  app.setErrorHandler(async (error: FastifyError | VigilError, request, reply) => {
    const status = error instanceof VigilError ? error.statusCode : (error.statusCode ?? 500);
    if (status >= 500) request.log.error({ err: error }, 'console request failed');
    if (status === 401) {
      // A cookie that no longer opens anything: the session expired or was revoked.
      const ended = sessionToken(request) !== undefined;
      if (ended) clearSessionCookie(reply, deps.cookies);
      const notice = 'Your session has ended. Please log in again.';
      if (request.headers['hx-request']) {
        if (ended) setFlash(reply, deps.cookies, notice, 'error');
        const next = `?next=${encodeURIComponent(String(request.headers['hx-current-url'] ?? '/console/alerts').replace(/^https?:\/\/[^/]+/, ''))}`;
        return reply.header('hx-redirect', `/console/login${next}`).status(401).send('');
      }
      // 401 with the login form in place; after logging in the browser returns to this page.
      if (request.method === 'GET') {
        const ctx = {
          principal: undefined,
          csrf: reply.generateCsrf(),
          flash: ended ? { kind: 'error' as const, text: notice } : undefined,
        };
        return sendHtml(reply, LoginPage({ ctx, next: safeReturn(request.url, '/console/alerts') }), 401);
      }
    }
    const message =
      status >= 500
        ? 'Something went wrong on the server; the error was logged.'
        : error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET'
          ? 'The form expired or did not come from this console (CSRF check failed). Reload the page and try again.'
          : error.message;
    return reply
      .status(status)
      .type('text/html; charset=utf-8')
      .send(await ErrorPage({ status, message, principal: request.principal }));
  });
  app.setNotFoundHandler(async (request, reply) =>
    reply
      .status(404)
      .type('text/html; charset=utf-8')
      .send(await ErrorPage({ status: 404, message: 'No such page.', principal: request.principal })),
  );

  const assets = loadAssets();
  app.get(
    '/console/static/:file',
    { config: { public: true }, schema: { hide: true } },
    async (request, reply) => {
      const asset = assets.get((request.params as { file: string }).file);
      if (!asset) return reply.callNotFound();
      return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
    },
  );
  app.get(
    '/console',
    { preHandler: app.requireRole('viewer'), schema: { hide: true } },
    async (_request, reply) => reply.redirect('/console/alerts', 303),
  );

  registerAuthPages(app, deps);
  registerAlertPages(app, deps);
  registerLiveUpdates(app);
  registerIncidentPages(app, deps);
  registerFleetPages(app, deps);
  registerRulePages(app, deps);
  registerAuditPages(app, deps);
}
