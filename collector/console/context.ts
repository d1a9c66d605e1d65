// What every console handler needs: the cookie policy, the page context (principal, a CSRF
// token, the pending notice) and a way to answer with HTML.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CollectorConfig } from '../config.js';
import type { PageContext } from './layout.js';
import { type CookiePolicy, setFlash, takeFlash } from './session.js';

export interface ConsoleDeps {
  config: CollectorConfig;
  cookies: CookiePolicy;
}

export function pageContext(deps: ConsoleDeps, request: FastifyRequest, reply: FastifyReply): PageContext {
  return {
    principal: request.principal,
    csrf: reply.generateCsrf(),
    flash: takeFlash(request, reply, deps.cookies),
  };
}

export async function sendHtml(reply: FastifyReply, html: JSX.Element, status = 200): Promise<FastifyReply> {
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .send(await html);
}

/** Post/redirect/get: the notice rides in a one-shot cookie to the page redirected to. */
export function redirectWith(
  deps: ConsoleDeps,
  reply: FastifyReply,
  to: string,
  text?: string,
  kind: 'ok' | 'error' = 'ok',
): FastifyReply {
  if (text) setFlash(reply, deps.cookies, text, kind);
  return reply.redirect(to, 303);
}

/** Form fields arrive as a string or, when repeated, an array. */
export const formList = (value: unknown): string[] =>
  value === undefined || value === null ? [] : (Array.isArray(value) ? value : [value]).map(String);

export const formText = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : Array.isArray(value) && typeof value[0] === 'string'
      ? value[0]
      : undefined;

/** A same-origin console path to return to; anything else falls back. */
export function safeReturn(value: unknown, fallback: string): string {
  const path = formText(value);
  return path && /^\/console(\/|$|\?)/.test(path) && !path.startsWith('//') ? path : fallback;
}
