// Test users: created through the admin API, logged in through the login API.
import type { Role } from '../../../collector/auth/roles.js';
import { ADMIN_TOKEN } from '../../helpers/collector.js';

export const PASSWORD = 'correct horse battery staple';

export async function api(
  baseUrl: string,
  method: string,
  path: string,
  token: string | null = ADMIN_TOKEN,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field by the assertions
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** Creates a user with that role and returns its id and a session token. */
export async function userWithRole(
  baseUrl: string,
  role: Role,
  username = `${role}-${Math.random().toString(36).slice(2, 8)}`,
) {
  const created = await api(baseUrl, 'POST', '/api/v1/users', ADMIN_TOKEN, {
    username,
    role,
    password: PASSWORD,
  });
  if (created.status !== 201)
    throw new Error(`create user: ${created.status} ${JSON.stringify(created.json)}`);
  const login = await api(baseUrl, 'POST', '/api/v1/auth/login', null, { username, password: PASSWORD });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.json)}`);
  return { id: created.json.id as string, username, token: login.json.token as string };
}
