// The console's login session lives in an httpOnly cookie holding the same session token the
// login API hands out; it is resolved to `request.principal` before the route's role check runs.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { findCredentialOwner } from '../auth/credentials.js';
import type { Db } from '../db/db.js';

export const SESSION_COOKIE = 'vigil_session';
export const FLASH_COOKIE = 'vigil_flash';
export const COOKIE_PATH = '/console';

export interface CookiePolicy {
  /**
   * Secure cookies: always when the collector serves TLS; 'auto' = when the request came over
   * https, which behind a trusted proxy (--trust-proxy) X-Forwarded-Proto tells.
   */
  secure: boolean | 'auto';
}

export function setSessionCookie(
  reply: FastifyReply,
  policy: CookiePolicy,
  token: string,
  expiresAt: string,
): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict',
    secure: policy.secure,
    expires: new Date(expiresAt),
  });
}

export function clearSessionCookie(reply: FastifyReply, policy: CookiePolicy): void {
  reply.clearCookie(SESSION_COOKIE, {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict',
    secure: policy.secure,
  });
}

/** The session token of the request's cookie, if any. */
export const sessionToken = (request: FastifyRequest): string | undefined => request.cookies[SESSION_COOKIE];

/**
 * Sets `request.principal` from the session cookie. Only login sessions count: an API token
 * pasted into the cookie is ignored, so API tokens never ride on ambient browser credentials.
 */
export async function resolveCookiePrincipal(db: Db, request: FastifyRequest): Promise<void> {
  const token = sessionToken(request);
  if (!token || request.principal) return;
  const owner = await findCredentialOwner(db, token);
  if (owner?.via === 'session') request.principal = owner;
}

/** A one-shot notice shown on the next page (after a POST redirects). */
export function setFlash(
  reply: FastifyReply,
  policy: CookiePolicy,
  text: string,
  kind: 'ok' | 'error' = 'ok',
): void {
  reply.setCookie(FLASH_COOKIE, JSON.stringify({ kind, text: text.slice(0, 500) }), {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict',
    secure: policy.secure,
  });
}

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

export function takeFlash(
  request: FastifyRequest,
  reply: FastifyReply,
  policy: CookiePolicy,
): Flash | undefined {
  const raw = request.cookies[FLASH_COOKIE];
  if (!raw) return undefined;
  reply.clearCookie(FLASH_COOKIE, {
    path: COOKIE_PATH,
    httpOnly: true,
    sameSite: 'strict',
    secure: policy.secure,
  });
  try {
    const parsed = JSON.parse(raw) as Partial<Flash>;
    if (typeof parsed.text !== 'string') return undefined;
    return { kind: parsed.kind === 'error' ? 'error' : 'ok', text: parsed.text };
  } catch {
    return undefined;
  }
}
