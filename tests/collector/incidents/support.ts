// Shared helpers for incident and notification tests: API calls with the admin token, alerts
// recorded through the real alert repository, and polling.
import { randomUUID } from 'node:crypto';
import { type AlertMatch, recordMatch } from '../../../collector/alerts/repository.js';
import { ADMIN_TOKEN, type RunningCollector } from '../../helpers/collector.js';

export async function api<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  token = ADMIN_TOKEN,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

/** Records an alert the way ingest does (same repository, same transaction shape). */
export async function seedAlert(
  collector: RunningCollector,
  agentId: string,
  overrides: Partial<AlertMatch> = {},
): Promise<string> {
  const match: AlertMatch = {
    ruleId: `rule-${randomUUID()}`,
    ruleTitle: 'Test rule',
    level: 'medium',
    tags: [],
    agentId,
    entity: randomUUID(),
    eventId: randomUUID(),
    eventTime: new Date(),
    evidence: { user: 'jdoe' },
    ...overrides,
  };
  const { alertId } = await collector.testDb.db.transaction((tx) => recordMatch(tx, match, 3_600_000));
  return alertId;
}

export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
