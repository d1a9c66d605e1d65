// Login and logout. The login form goes through the login API (its rate limit, its audit record);
// the session token it returns is kept in an httpOnly, SameSite=Strict cookie.
import type { FastifyInstance } from 'fastify';
import { apiErrorMessage, callApi } from './api.js';
import { type ConsoleDeps, formText, pageContext, redirectWith, safeReturn, sendHtml } from './context.js';
import { CsrfField, Layout, type PageContext } from './layout.js';
import { clearSessionCookie, setSessionCookie } from './session.js';

export function LoginPage(props: { ctx: PageContext; next: string; error?: string; username?: string }) {
  return (
    <Layout title="Log in" ctx={props.ctx}>
      <section class="login">
        <h1>Log in to Vigil</h1>
        {props.error && (
          <p class="flash error" role="alert" safe>
            {props.error}
          </p>
        )}
        <form method="post" action="/console/login" class="stack">
          <CsrfField ctx={props.ctx} />
          <input type="hidden" name="next" value={props.next} />
          <label for="username">Username</label>
          <input
            id="username"
            name="username"
            autocomplete="username"
            required
            value={props.username ?? ''}
          />
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
          <button type="submit" class="primary">
            Log in
          </button>
        </form>
      </section>
    </Layout>
  );
}

interface LoginResponse {
  token: string;
  expiresAt: string;
}

export function registerAuthPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/console/login', { config: { public: true }, schema: { hide: true } }, async (request, reply) => {
    const ctx = pageContext(deps, request, reply);
    const next = safeReturn((request.query as { next?: string }).next, '/console/alerts');
    if (ctx.principal) return reply.redirect(next, 303);
    return sendHtml(reply, <LoginPage ctx={{ ...ctx, principal: undefined }} next={next} />);
  });

  app.post(
    '/console/login',
    { config: { public: true }, preHandler: app.csrfProtection, schema: { hide: true } },
    async (request, reply) => {
      const body = request.body as Record<string, unknown>;
      const username = formText(body.username) ?? '';
      const password = formText(body.password) ?? '';
      const next = safeReturn(body.next, '/console/alerts');
      const result = await callApi<LoginResponse>(
        app,
        request,
        { method: 'POST', url: '/api/v1/auth/login', body: { username, password } },
        '',
      );
      if (!result.ok) {
        const ctx = { ...pageContext(deps, request, reply), principal: undefined };
        const error =
          result.status === 400
            ? 'Enter your username and password.'
            : apiErrorMessage(result.body, 'Login failed.');
        return sendHtml(
          reply,
          <LoginPage ctx={ctx} next={next} error={error} username={username} />,
          result.status === 400 ? 400 : result.status,
        );
      }
      setSessionCookie(reply, deps.cookies, result.body.token, result.body.expiresAt);
      return reply.redirect(next, 303);
    },
  );

  app.post(
    '/console/logout',
    { preHandler: [app.requireRole('viewer'), app.consoleCsrf], schema: { hide: true } },
    async (request, reply) => {
      await callApi(app, request, { method: 'POST', url: '/api/v1/auth/logout' });
      clearSessionCookie(reply, deps.cookies);
      return redirectWith(deps, reply, '/console/login', 'You are logged out.');
    },
  );
}
