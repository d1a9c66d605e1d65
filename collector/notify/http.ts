import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { OutgoingRequest } from './types.js';

export type DeliveryErrorCode =
  | 'invalid_url'
  | 'blocked_target'
  | 'dns_failed'
  | 'redirect_refused'
  | 'too_many_redirects'
  | 'timeout'
  | 'network';

export interface DeliveryResult {
  ok: boolean;
  /** HTTP status of the final response; 0 when no response arrived. */
  status: number;
  /** From a Retry-After header on the final response. */
  retryAfterMs?: number;
  /** 410 Gone: the receiver asks us to stop; the endpoint should be disabled. */
  disable: boolean;
  /** Never contains the request URL's path or query (they carry tokens). */
  error?: { code: DeliveryErrorCode; message: string };
}

export interface DeliverOptions {
  timeoutMs: number;
  /** Allow loopback/private/link-local targets (tests, on-prem receivers). */
  allowPrivateTargets?: boolean;
  /** Same-host redirects to follow; default 3. */
  maxRedirects?: number;
  /** Clock for Retry-After dates; defaults to Date.now. */
  now?: () => number;
}

export class BlockedTargetError extends Error {
  readonly code = 'blocked_target';
  constructor(message: string) {
    super(message);
    this.name = 'BlockedTargetError';
  }
}

/**
 * Origin only: path and query of webhook URLs are credentials (Slack path, Teams `sig`), and
 * user-info may hold passwords, so neither is ever logged.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const hasPath = parsed.pathname !== '/' && parsed.pathname !== '';
    return `${parsed.protocol}//${parsed.host}${hasPath ? '/[redacted]' : '/'}${parsed.search ? '?[redacted]' : ''}`;
  } catch {
    return '[invalid url]';
  }
}

/** True for addresses a webhook must not reach: anything but public unicast. */
export function isPrivateAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return true;
  // process() unwraps IPv4-mapped IPv6 (::ffff:127.0.0.1) so it is judged as IPv4.
  return ipaddr.process(address).range() !== 'unicast';
}

/** Resolves the host and refuses when any of its addresses is not public unicast. */
export async function assertPublicTarget(url: URL): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [host]
    : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  if (addresses.length === 0) throw new BlockedTargetError(`${url.host} resolved to no address`);
  const blocked = addresses.find(isPrivateAddress);
  if (blocked !== undefined) {
    throw new BlockedTargetError(`${url.host} resolves to non-public address ${blocked}`);
  }
}

const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** Retry-After as delta-seconds or HTTP-date, in ms from `now`; undefined when absent or garbage. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

function failure(code: DeliveryErrorCode, message: string, status = 0): DeliveryResult {
  return { ok: false, status, disable: false, error: { code, message } };
}

/**
 * POSTs a built request with a total timeout. Redirects are followed manually, only to the same
 * host and never from https to http, re-checking the target each hop. Never throws.
 *
 * Known gap: the address is checked before fetch resolves it again, so a DNS answer that changes
 * between the two lookups (rebinding) is not caught; pinning needs a custom dispatcher.
 */
export async function deliver(request: OutgoingRequest, options: DeliverOptions): Promise<DeliveryResult> {
  const now = options.now ?? Date.now;
  const maxRedirects = options.maxRedirects ?? 3;
  let current: URL;
  try {
    current = new URL(request.url);
  } catch {
    return failure('invalid_url', 'request URL is not valid');
  }
  if (current.protocol !== 'https:' && current.protocol !== 'http:') {
    return failure('invalid_url', `unsupported protocol ${current.protocol}`);
  }
  const originalHost = current.host;
  const signal = AbortSignal.timeout(options.timeoutMs);

  for (let hop = 0; ; hop++) {
    try {
      if (!options.allowPrivateTargets) await assertPublicTarget(current);
    } catch (error) {
      if (error instanceof BlockedTargetError) return failure('blocked_target', error.message);
      return failure('dns_failed', `could not resolve ${current.host}: ${(error as Error).message}`);
    }

    let response: Response;
    try {
      response = await fetch(current, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal,
      });
    } catch (error) {
      const err = error as Error;
      if (err.name === 'TimeoutError' || err.name === 'AbortError') {
        return failure('timeout', `no response from ${current.host} within ${options.timeoutMs} ms`);
      }
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return failure('network', `request to ${current.host} failed${cause ? ` (${cause})` : ''}`);
    }
    // Release the connection; the receiver's body is not needed.
    await response.body?.cancel().catch(() => undefined);

    if (REDIRECT_STATUSES.has(response.status)) {
      const location = response.headers.get('location');
      if (!location)
        return failure('network', `redirect ${response.status} without Location`, response.status);
      let next: URL;
      try {
        next = new URL(location, current);
      } catch {
        return failure('redirect_refused', 'redirect Location is not a valid URL', response.status);
      }
      if (next.host !== originalHost || (current.protocol === 'https:' && next.protocol !== 'https:')) {
        return failure(
          'redirect_refused',
          `redirect from ${originalHost} to ${redactUrl(next.toString())} refused: only same-host redirects are followed`,
          response.status,
        );
      }
      if (hop >= maxRedirects)
        return failure('too_many_redirects', `more than ${maxRedirects} redirects`, response.status);
      current = next;
      continue;
    }

    const result: DeliveryResult = {
      ok: response.status >= 200 && response.status < 300,
      status: response.status,
      disable: response.status === 410,
    };
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    return result;
  }
}
