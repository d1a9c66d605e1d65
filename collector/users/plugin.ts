// Users admin API: create, list, change role, disable, reset password. Admins only.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import Type, { type Static } from 'typebox';
import { actorOf, recordAudit } from '../audit/repository.js';
import { listApiTokens, revokeApiToken, revokeUserSessions } from '../auth/credentials.js';
import { hashPassword, MIN_PASSWORD_LENGTH } from '../auth/passwords.js';
import { roles } from '../auth/roles.js';
import { TokenInfo } from '../auth/routes.js';
import { ConflictError, NotFoundError } from '../errors.js';
import {
  countOtherActiveAdmins,
  getUser,
  insertUser,
  listUsers,
  setPasswordHash,
  updateUser,
} from './repository.js';

const UserSchema = Type.Object({
  id: Type.String(),
  username: Type.String(),
  role: Type.Enum([...roles]),
  createdAt: Type.String(),
  disabledAt: Type.Union([Type.String(), Type.Null()]),
  hasPassword: Type.Boolean(),
});

const Password = Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 });
const CreateBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._@-]+$' }),
    role: Type.Enum([...roles]),
    password: Type.Optional(Password),
  },
  { additionalProperties: false },
);
const UpdateBody = Type.Object(
  { role: Type.Optional(Type.Enum([...roles])), disabled: Type.Optional(Type.Boolean()) },
  { additionalProperties: false, minProperties: 1 },
);
const PasswordBody = Type.Object({ password: Password }, { additionalProperties: false });
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const TokenParams = Type.Object({
  id: Type.String({ format: 'uuid' }),
  tokenId: Type.String({ format: 'uuid' }),
});

export default fp(
  async (app: FastifyInstance) => {
    app.get(
      '/api/v1/users',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['users'],
          summary: 'List users',
          response: { 200: Type.Object({ users: Type.Array(UserSchema) }) },
        },
      },
      async () => ({ users: await listUsers(app.db) }),
    );

    app.post(
      '/api/v1/users',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['users'],
          summary: 'Create a user',
          body: CreateBody,
          response: { 201: UserSchema },
        },
      },
      async (request, reply) => {
        const body = request.body as Static<typeof CreateBody>;
        const passwordHash = body.password ? await hashPassword(body.password) : null;
        const user = await app.db.transaction(async (tx) => {
          const created = await insertUser(tx, { username: body.username, role: body.role, passwordHash });
          if (!created) throw new ConflictError(`the username ${body.username} is taken`, 'username_taken');
          await recordAudit(tx, actorOf(request), {
            action: 'user.create',
            targetType: 'user',
            targetId: created.id,
            after: created,
          });
          return created;
        });
        return reply.status(201).send(user);
      },
    );

    app.patch(
      '/api/v1/users/:id',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['users'],
          summary: "Change a user's role or disable/enable them",
          params: IdParams,
          body: UpdateBody,
          response: { 200: UserSchema },
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof IdParams>;
        const change = request.body as Static<typeof UpdateBody>;
        return app.db.transaction(async (tx) => {
          const before = await getUser(tx, id, true);
          if (!before) throw new NotFoundError('user');
          const losesAdmin =
            before.role === 'admin' && ((change.role && change.role !== 'admin') || change.disabled === true);
          if (losesAdmin && (await countOtherActiveAdmins(tx, id)) === 0) {
            throw new ConflictError('the last enabled admin cannot be demoted or disabled', 'last_admin');
          }
          const after = (await updateUser(tx, id, change))!;
          if (change.disabled) await revokeUserSessions(tx, id);
          await recordAudit(tx, actorOf(request), {
            action: 'user.update',
            targetType: 'user',
            targetId: id,
            before,
            after,
          });
          return after;
        });
      },
    );

    app.post(
      '/api/v1/users/:id/password',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['users'],
          summary: "Reset a user's password (ends their sessions)",
          params: IdParams,
          body: PasswordBody,
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) => {
        const { id } = request.params as Static<typeof IdParams>;
        const { password } = request.body as Static<typeof PasswordBody>;
        const passwordHash = await hashPassword(password);
        await app.db.transaction(async (tx) => {
          if (!(await setPasswordHash(tx, id, passwordHash))) throw new NotFoundError('user');
          await revokeUserSessions(tx, id);
          // The hash itself stays out of the log.
          await recordAudit(tx, actorOf(request), {
            action: 'user.password_reset',
            targetType: 'user',
            targetId: id,
          });
        });
        return reply.status(204).send();
      },
    );

    // An admin can see and revoke anyone's personal API tokens (a leaked token, a person leaving).
    app.get(
      '/api/v1/users/:id/tokens',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['users'],
          summary: "A user's personal API tokens (never their secrets)",
          params: IdParams,
          response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }) },
        },
      },
      async (request) => {
        const { id } = request.params as Static<typeof IdParams>;
        if (!(await getUser(app.db, id))) throw new NotFoundError('user');
        return { tokens: await listApiTokens(app.db, id) };
      },
    );

    app.delete(
      '/api/v1/users/:id/tokens/:tokenId',
      {
        preHandler: app.requireRole('admin'),
        schema: {
          tags: ['users'],
          summary: "Revoke one of a user's personal API tokens",
          params: TokenParams,
          response: { 200: TokenInfo },
        },
      },
      async (request) => {
        const { id, tokenId } = request.params as Static<typeof TokenParams>;
        return app.db.transaction(async (tx) => {
          const revoked = await revokeApiToken(tx, id, tokenId);
          if (!revoked) throw new NotFoundError('token (or already revoked)');
          await recordAudit(tx, actorOf(request), {
            action: 'token.revoke',
            targetType: 'api_token',
            targetId: tokenId,
            after: { ...revoked, userId: id },
          });
          return revoked;
        });
      },
    );
  },
  { name: 'users', dependencies: ['db', 'auth'] },
);
