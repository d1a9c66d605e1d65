// SQL for user accounts. Password hashes never leave this module except for verification.
import type { Role } from '../auth/roles.js';
import type { Queryable } from '../db/db.js';

export interface User {
  id: string;
  username: string;
  role: Role;
  createdAt: string;
  disabledAt: string | null;
  hasPassword: boolean;
}

interface UserRow {
  id: string;
  username: string;
  role: Role;
  created_at: Date;
  disabled_at: Date | null;
  has_password: boolean;
}

const userColumns = 'id, username, role, created_at, disabled_at, password_hash IS NOT NULL AS has_password';

const toUser = (row: UserRow): User => ({
  id: row.id,
  username: row.username,
  role: row.role,
  createdAt: new Date(row.created_at).toISOString(),
  disabledAt: row.disabled_at ? new Date(row.disabled_at).toISOString() : null,
  hasPassword: row.has_password,
});

/** Inserts a user; undefined when the username is taken. */
export async function insertUser(
  tx: Queryable,
  user: { username: string; role: Role; passwordHash: string | null },
): Promise<User | undefined> {
  const { rows } = await tx.query<UserRow>(
    `INSERT INTO users (username, role, password_hash) VALUES ($1, $2, $3)
     ON CONFLICT (username) DO NOTHING RETURNING ${userColumns}`,
    [user.username, user.role, user.passwordHash],
  );
  return rows[0] && toUser(rows[0]);
}

export async function listUsers(db: Queryable): Promise<User[]> {
  const { rows } = await db.query<UserRow>(`SELECT ${userColumns} FROM users ORDER BY username`);
  return rows.map(toUser);
}

export async function getUser(db: Queryable, id: string, forUpdate = false): Promise<User | undefined> {
  const { rows } = await db.query<UserRow>(
    `SELECT ${userColumns} FROM users WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return rows[0] && toUser(rows[0]);
}

export async function updateUser(
  tx: Queryable,
  id: string,
  change: { role?: Role; disabled?: boolean },
): Promise<User | undefined> {
  const { rows } = await tx.query<UserRow>(
    `UPDATE users SET role = COALESCE($2, role),
            disabled_at = CASE WHEN $3::boolean IS NULL THEN disabled_at
                               WHEN $3 THEN COALESCE(disabled_at, now()) ELSE NULL END
      WHERE id = $1 RETURNING ${userColumns}`,
    [id, change.role ?? null, change.disabled ?? null],
  );
  return rows[0] && toUser(rows[0]);
}

export async function setPasswordHash(tx: Queryable, id: string, passwordHash: string): Promise<boolean> {
  const { rowCount } = await tx.query('UPDATE users SET password_hash = $2 WHERE id = $1', [
    id,
    passwordHash,
  ]);
  return rowCount > 0;
}

/** The login lookup: the enabled user of that name and their password hash. */
export async function findLoginUser(
  db: Queryable,
  username: string,
): Promise<{ id: string; username: string; role: Role; passwordHash: string | null } | undefined> {
  const { rows } = await db.query<{ id: string; username: string; role: Role; password_hash: string | null }>(
    'SELECT id, username, role, password_hash FROM users WHERE username = $1 AND disabled_at IS NULL',
    [username],
  );
  const row = rows[0];
  return row && { id: row.id, username: row.username, role: row.role, passwordHash: row.password_hash };
}

/** Enabled admins other than `exceptId`: the last admin may not be demoted or disabled. */
export async function countOtherActiveAdmins(tx: Queryable, exceptId: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1`,
    [exceptId],
  );
  return rows[0]!.n;
}
