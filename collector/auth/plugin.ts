// Who is calling: API tokens and login sessions (Bearer) resolved to a user and role. Every route
// declares the role it needs with `app.requireRole(role)` (or `config: { role }`), or says
// `config: { public: true }`; the role is checked in onRequest, before any body is parsed.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  FastifyInstance,
  FastifyRequest,
  onRequestAsyncHookHandler,
  preHandlerAsyncHookHandler,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import type { CollectorConfig } from '../config.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { findCredentialOwner } from './credentials.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { type Role, roleAllows, roles } from './roles.js';
import { type AuthRouteOptions, registerAuthRoutes } from './routes.js';
import { bearerToken, hashToken, newToken } from './tokens.js';

export interface Principal {
  userId: string;
  username: string;
  role: Role;
  via: 'token' | 'session';
  /** The api_tokens or sessions row the caller authenticated with. */
  credentialId: string;
}

/** What a route needs: a role, or nothing (`public`). Collected for every route registered after auth. */
export interface RouteAccess {
  method: string;
  url: string;
  access: Role | 'public' | 'undeclared';
}

declare module 'fastify' {
  interface FastifyInstance {
    requireRole(role: Role): preHandlerAsyncHookHandler;
    /** Every route registered after the auth plugin and the access it declares. */
    routeAccess: RouteAccess[];
  }
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    /** The role the route needs (set by `requireRole` in preHandler, or directly). */
    role?: Role;
    /** The route is reachable without credentials (enrollment, login, health). */
    public?: boolean;
  }
}

/** Ensures the bootstrap admin and its token exist; returns the token when it was generated now. */
async function bootstrapAdmin(app: FastifyInstance, config: CollectorConfig): Promise<string | undefined> {
  const tokenFile = join(config.dataDir, 'admin-token');
  let token = config.adminToken;
  let generated: string | undefined;
  if (!token && existsSync(tokenFile)) token = readFileSync(tokenFile, 'utf8').trim();
  if (!token) {
    token = newToken('vgl');
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    generated = token;
  }
  await app.db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `INSERT INTO users (username, role) VALUES ('admin', 'admin')
       ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username RETURNING id`,
    );
    const adminId = rows[0]!.id;
    const hash = hashToken(token);
    // A changed VIGIL_ADMIN_TOKEN replaces the previous bootstrap token instead of adding to it.
    await tx.query(
      `UPDATE api_tokens SET revoked_at = now()
        WHERE user_id = $1 AND name = 'bootstrap' AND token_hash <> $2 AND revoked_at IS NULL`,
      [adminId, hash],
    );
    await tx.query(
      `INSERT INTO api_tokens (user_id, name, token_hash) VALUES ($1, 'bootstrap', $2)
       ON CONFLICT (token_hash) DO NOTHING`,
      [adminId, hash],
    );
  });
  return generated;
}

/**
 * The console needs a password: VIGIL_ADMIN_PASSWORD sets the bootstrap admin's, otherwise one is
 * generated the first time (into <data-dir>/admin-password, shown once). A password changed later
 * through the users API is left alone.
 */
async function bootstrapAdminPassword(
  app: FastifyInstance,
  config: CollectorConfig,
): Promise<string | undefined> {
  const { rows } = await app.db.query<{ id: string; password_hash: string | null }>(
    `SELECT id, password_hash FROM users WHERE username = 'admin'`,
  );
  const admin = rows[0];
  if (!admin) return undefined;
  if (config.adminPassword) {
    if (!(await verifyPassword(config.adminPassword, admin.password_hash))) {
      await app.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [
        admin.id,
        await hashPassword(config.adminPassword),
      ]);
    }
    return undefined;
  }
  if (admin.password_hash) return undefined;
  const password = randomBytes(12).toString('base64url');
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(join(config.dataDir, 'admin-password'), `${password}\n`, { mode: 0o600 });
  await app.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [
    admin.id,
    await hashPassword(password),
  ]);
  return password;
}

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig } & AuthRouteOptions) => {
    const generated = await bootstrapAdmin(app, opts.config);
    if (generated) {
      app.log.warn(
        { tokenFile: join(opts.config.dataDir, 'admin-token') },
        'generated the bootstrap admin token; it is shown once on stdout and kept in the token file',
      );
      process.stdout.write(`\nVigil admin API token (shown once): ${generated}\n\n`);
    }
    const password = await bootstrapAdminPassword(app, opts.config);
    if (password) {
      process.stdout.write(`Vigil console login (shown once): admin / ${password}\n\n`);
    }

    app.decorateRequest('principal', undefined);

    const authenticate = async (request: FastifyRequest): Promise<Principal> => {
      if (request.principal) return request.principal;
      const token = bearerToken(request.headers.authorization);
      const owner = token ? await findCredentialOwner(app.db, token) : undefined;
      if (!owner) throw new UnauthorizedError();
      request.principal = owner;
      return owner;
    };

    const roleCheck = (role: Role) => async (request: FastifyRequest) => {
      const principal = await authenticate(request);
      if (!roleAllows(principal.role, role)) throw new ForbiddenError(`this needs the ${role} role`);
    };

    // The preHandlers requireRole made, so onRoute can read which role a route asked for.
    const declaredRoles = new WeakMap<object, Role>();
    app.decorate('requireRole', (role: Role): preHandlerAsyncHookHandler => {
      const handler: preHandlerAsyncHookHandler = roleCheck(role);
      declaredRoles.set(handler, role);
      return handler;
    });

    const routeAccess: RouteAccess[] = [];
    app.decorate('routeAccess', routeAccess);
    app.addHook('onRoute', (route: RouteOptions) => {
      const config = (route.config ?? {}) as { role?: Role; public?: boolean };
      const role =
        config.role ??
        asArray(route.preHandler as object | object[] | undefined)
          .map((handler) => declaredRoles.get(handler))
          .find((found) => found !== undefined);
      if (role !== undefined && !roles.includes(role))
        throw new Error(`route ${route.url}: unknown role ${role}`);
      const methods = asArray(route.method);
      for (const method of methods) {
        routeAccess.push({
          method,
          url: route.url,
          access: role ?? (config.public ? 'public' : 'undeclared'),
        });
      }
      if (role === undefined) return;
      route.config = { ...config, role } as typeof route.config;
      // Authenticate before the body is parsed and validated: strangers learn nothing from 400s.
      const check: onRequestAsyncHookHandler = roleCheck(role);
      route.onRequest = [check, ...asArray(route.onRequest)] as RouteOptions['onRequest'];
    });

    registerAuthRoutes(app, opts);
  },
  { name: 'auth', dependencies: ['db'] },
);
