// SQL for the secrets a user authenticates with: personal API tokens and login sessions. Only
// hashes are stored; a token is shown once, when it is created.
import type { Queryable } from '../db/db.js';
import type { Role } from './roles.js';
import { hashToken, newToken } from './tokens.js';

export interface CredentialOwner {
  userId: string;
  username: string;
  role: Role;
  via: 'token' | 'session';
  credentialId: string;
}

/** The user behind a bearer secret: a live API token or an unexpired session of an enabled user. */
export async function findCredentialOwner(
  db: Queryable,
  secret: string,
): Promise<CredentialOwner | undefined> {
  const { rows } = await db.query<{
    user_id: string;
    username: string;
    role: Role;
    via: 'token' | 'session';
    id: string;
  }>(
    `SELECT u.id AS user_id, u.username, u.role, 'token' AS via, t.id
       FROM api_tokens t JOIN users u ON u.id = t.user_id
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL
     UNION ALL
     SELECT u.id, u.username, u.role, 'session', s.id
       FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now() AND u.disabled_at IS NULL`,
    [hashToken(secret)],
  );
  const row = rows[0];
  return (
    row && { userId: row.user_id, username: row.username, role: row.role, via: row.via, credentialId: row.id }
  );
}

export async function createSession(
  tx: Queryable,
  userId: string,
  ttlMs: number,
  ip: string,
): Promise<{ id: string; token: string; expiresAt: string }> {
  const token = newToken('vgs');
  const { rows } = await tx.query<{ id: string; expires_at: Date }>(
    `INSERT INTO sessions (user_id, token_hash, expires_at, ip)
     VALUES ($1, $2, now() + make_interval(secs => $3), $4) RETURNING id, expires_at`,
    [userId, hashToken(token), ttlMs / 1000, ip],
  );
  const row = rows[0]!;
  return { id: row.id, token, expiresAt: new Date(row.expires_at).toISOString() };
}

export async function revokeSession(tx: Queryable, sessionId: string): Promise<boolean> {
  const { rowCount } = await tx.query(
    'UPDATE sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
    [sessionId],
  );
  return rowCount > 0;
}

/** Ends every session of a user (password reset, disable). */
export async function revokeUserSessions(tx: Queryable, userId: string): Promise<void> {
  await tx.query('UPDATE sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [
    userId,
  ]);
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

interface ApiTokenRow {
  id: string;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const iso = (value: Date | null): string | null => (value ? new Date(value).toISOString() : null);

const toTokenInfo = (row: ApiTokenRow): ApiTokenInfo => ({
  id: row.id,
  name: row.name,
  createdAt: new Date(row.created_at).toISOString(),
  lastUsedAt: iso(row.last_used_at),
  revokedAt: iso(row.revoked_at),
});

export async function createApiToken(
  tx: Queryable,
  userId: string,
  name: string,
): Promise<{ token: string; info: ApiTokenInfo }> {
  const token = newToken('vgl');
  const { rows } = await tx.query<ApiTokenRow>(
    `INSERT INTO api_tokens (user_id, name, token_hash) VALUES ($1, $2, $3)
     RETURNING id, name, created_at, last_used_at, revoked_at`,
    [userId, name, hashToken(token)],
  );
  return { token, info: toTokenInfo(rows[0]!) };
}

export async function listApiTokens(db: Queryable, userId: string): Promise<ApiTokenInfo[]> {
  const { rows } = await db.query<ApiTokenRow>(
    `SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens WHERE user_id = $1
      ORDER BY created_at DESC, id`,
    [userId],
  );
  return rows.map(toTokenInfo);
}

/** Revokes one of the user's own tokens; undefined when it is not theirs or already revoked. */
export async function revokeApiToken(
  tx: Queryable,
  userId: string,
  tokenId: string,
): Promise<ApiTokenInfo | undefined> {
  const { rows } = await tx.query<ApiTokenRow>(
    `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
     RETURNING id, name, created_at, last_used_at, revoked_at`,
    [tokenId, userId],
  );
  return rows[0] && toTokenInfo(rows[0]);
}
