// Who is calling: API tokens (Bearer) resolved to a user and role. Every route declares the
// role it needs with `app.requireRole(role)`; nothing is reachable by default.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { CollectorConfig } from '../config.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { type Role, roleAllows } from './roles.js';
import { bearerToken, hashToken, newToken } from './tokens.js';

export interface Principal {
  userId: string;
  username: string;
  role: Role;
  via: 'token' | 'session';
}

declare module 'fastify' {
  interface FastifyInstance {
    requireRole(role: Role): preHandlerAsyncHookHandler;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

async function principalFromToken(app: FastifyInstance, token: string): Promise<Principal | undefined> {
  const { rows } = await app.db.query<{ user_id: string; username: string; role: Role; token_id: string }>(
    `SELECT u.id AS user_id, u.username, u.role, t.id AS token_id
       FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL`,
    [hashToken(token)],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { userId: row.user_id, username: row.username, role: row.role, via: 'token' };
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

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig }) => {
    const generated = await bootstrapAdmin(app, opts.config);
    if (generated) {
      app.log.warn(
        { tokenFile: join(opts.config.dataDir, 'admin-token') },
        'generated the bootstrap admin token; it is shown once on stdout and kept in the token file',
      );
      process.stdout.write(`\nVigil admin API token (shown once): ${generated}\n\n`);
    }

    app.decorateRequest('principal', undefined);

    const authenticate = async (request: FastifyRequest): Promise<Principal> => {
      if (request.principal) return request.principal;
      const token = bearerToken(request.headers.authorization);
      const principal = token ? await principalFromToken(app, token) : undefined;
      if (!principal) throw new UnauthorizedError();
      request.principal = principal;
      return principal;
    };

    app.decorate('requireRole', (role: Role): preHandlerAsyncHookHandler => {
      return async (request) => {
        const principal = await authenticate(request);
        if (!roleAllows(principal.role, role)) throw new ForbiddenError(`this needs the ${role} role`);
      };
    });
  },
  { name: 'auth', dependencies: ['db'] },
);
