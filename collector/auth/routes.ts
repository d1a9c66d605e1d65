// Login, logout and personal API tokens. A token or session secret is shown once, at creation.
import type { FastifyInstance } from 'fastify';
import Type, { type Static } from 'typebox';
import { actorOf, recordAudit } from '../audit/repository.js';
import { BadRequestError, NotFoundError, UnauthorizedError } from '../errors.js';
import { findLoginUser } from '../users/repository.js';
import {
  createApiToken,
  createSession,
  listApiTokens,
  revokeApiToken,
  revokeSession,
} from './credentials.js';
import { verifyPassword } from './passwords.js';
import { roles } from './roles.js';

export interface AuthRouteOptions {
  /** How long a login session lasts (default 12 h). */
  sessionTtlMs?: number;
}

const DEFAULT_SESSION_TTL_MS = 12 * 60 * 60 * 1000;

const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 100 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
  },
  { additionalProperties: false },
);

export const TokenInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

const Me = Type.Object({
  userId: Type.String(),
  username: Type.String(),
  role: Type.Enum([...roles]),
  via: Type.Enum(['token', 'session']),
});

const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });

export function registerAuthRoutes(app: FastifyInstance, opts: AuthRouteOptions): void {
  const sessionTtlMs = opts.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;

  app.post(
    '/api/v1/auth/login',
    {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Log in with username and password; returns a session token (Bearer)',
        security: [],
        body: LoginBody,
        response: {
          200: Type.Object({ token: Type.String(), expiresAt: Type.String(), user: Me }),
          401: ErrorBody,
        },
      },
    },
    async (request) => {
      const { username, password } = request.body as Static<typeof LoginBody>;
      const user = await findLoginUser(app.db, username);
      const ok = await verifyPassword(password, user?.passwordHash);
      if (!user || !ok) {
        await recordAudit(
          app.db,
          { userId: null, username, requestId: request.id, ip: request.ip },
          {
            action: 'auth.login_failed',
            targetType: 'user',
            targetId: user?.id ?? null,
          },
        );
        throw new UnauthorizedError('wrong username or password', 'login_failed');
      }
      return app.db.transaction(async (tx) => {
        const session = await createSession(tx, user.id, sessionTtlMs, request.ip);
        await recordAudit(
          tx,
          { userId: user.id, username: user.username, requestId: request.id, ip: request.ip },
          {
            action: 'auth.login',
            targetType: 'session',
            targetId: session.id,
            after: { expiresAt: session.expiresAt },
          },
        );
        return {
          token: session.token,
          expiresAt: session.expiresAt,
          user: { userId: user.id, username: user.username, role: user.role, via: 'session' as const },
        };
      });
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['auth'],
        summary: 'End the session used for this request',
        response: { 204: Type.Null() },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      if (principal.via !== 'session') {
        throw new BadRequestError(
          'logout ends a login session; revoke an API token with DELETE /api/v1/tokens/:id',
          undefined,
          'not_a_session',
        );
      }
      await app.db.transaction(async (tx) => {
        await revokeSession(tx, principal.credentialId);
        await recordAudit(tx, actorOf(request), {
          action: 'auth.logout',
          targetType: 'session',
          targetId: principal.credentialId,
        });
      });
      return reply.status(204).send();
    },
  );

  app.get(
    '/api/v1/auth/me',
    {
      preHandler: app.requireRole('viewer'),
      schema: { tags: ['auth'], summary: 'Who the caller is', response: { 200: Me } },
    },
    async (request) => {
      const { userId, username, role, via } = request.principal!;
      return { userId, username, role, via };
    },
  );

  app.get(
    '/api/v1/tokens',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['auth'],
        summary: "The caller's personal API tokens",
        response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }) },
      },
    },
    async (request) => ({ tokens: await listApiTokens(app.db, request.principal!.userId) }),
  );

  const CreateTokenBody = Type.Object(
    { name: Type.String({ minLength: 1, maxLength: 100 }) },
    { additionalProperties: false },
  );
  app.post(
    '/api/v1/tokens',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['auth'],
        summary: 'Create a personal API token (the secret is shown once)',
        body: CreateTokenBody,
        response: { 201: Type.Intersect([TokenInfo, Type.Object({ token: Type.String() })]) },
      },
    },
    async (request, reply) => {
      const { name } = request.body as Static<typeof CreateTokenBody>;
      const created = await app.db.transaction(async (tx) => {
        const result = await createApiToken(tx, request.principal!.userId, name);
        await recordAudit(tx, actorOf(request), {
          action: 'token.create',
          targetType: 'api_token',
          targetId: result.info.id,
          after: result.info,
        });
        return result;
      });
      return reply.status(201).send({ ...created.info, token: created.token });
    },
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      preHandler: app.requireRole('viewer'),
      schema: {
        tags: ['auth'],
        summary: 'Revoke one of your personal API tokens',
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: TokenInfo },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      return app.db.transaction(async (tx) => {
        const revoked = await revokeApiToken(tx, request.principal!.userId, id);
        if (!revoked) throw new NotFoundError('token');
        await recordAudit(tx, actorOf(request), {
          action: 'token.revoke',
          targetType: 'api_token',
          targetId: id,
          after: revoked,
        });
        return revoked;
      });
    },
  );
}
