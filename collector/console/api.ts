// Console actions that the JSON API already implements (rules, group policy, incidents, login)
// go through that API in-process with the caller's own session token: same validation, same
// role checks, same audit records, no second copy of the logic.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerToken } from '../auth/tokens.js';
import { sessionToken } from './session.js';

export interface ApiResult<T = unknown> {
  status: number;
  body: T;
  ok: boolean;
}

export interface ApiCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  body?: unknown;
}

export async function callApi<T = unknown>(
  app: FastifyInstance,
  request: FastifyRequest,
  call: ApiCall,
  token = sessionToken(request) ?? bearerToken(request.headers.authorization),
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await app.inject({
    method: call.method,
    url: call.url,
    headers,
    remoteAddress: request.ip,
    ...(call.body !== undefined && { payload: call.body as object }),
  });
  const body = (response.body ? response.json() : null) as T;
  return { status: response.statusCode, body, ok: response.statusCode < 300 };
}

/** The message of an API error body, or a fallback. */
export function apiErrorMessage(body: unknown, fallback: string): string {
  const error = (body as { error?: { message?: unknown; reason?: unknown } } | null)?.error;
  if (!error) return fallback;
  const message = typeof error.message === 'string' ? error.message : fallback;
  return typeof error.reason === 'string' && !message.includes(error.reason)
    ? `${message}: ${error.reason}`
    : message;
}
