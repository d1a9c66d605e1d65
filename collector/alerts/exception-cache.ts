// The live exceptions in memory, by rule, so the ingest path asks the database only for a version
// number per match. Any process that changes exceptions bumps the version; every process reloads
// when it sees a new one, and at least every 30 s (expiry). Field values match like Sigma's
// defaults: case-insensitive, with `*` wildcards, any element of a list-valued field.
import type { VigilEvent } from '../../shared/events.js';
import type { AgentRecord } from '../agents/repository.js';
import type { Queryable } from '../db/db.js';
import { toSigma } from '../detection/taxonomy.js';
import {
  type AlertException,
  countExceptionHit,
  currentExceptionsVersion,
  loadLiveExceptions,
} from './exceptions.js';
import type { AlertMatch } from './repository.js';

const MAX_AGE_MS = 30_000;

const patternCache = new Map<string, RegExp>();

/**
 * An exception's field value as a matcher: case-insensitive, `*` matches any run of characters
 * (everything else, `?` included, is literal: URLs and command lines carry them).
 */
function valuePattern(expected: string): RegExp {
  let pattern = patternCache.get(expected);
  if (!pattern) {
    const body = expected
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    pattern = new RegExp(`^${body}$`, 'is');
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(expected, pattern);
  }
  return pattern;
}

/** Does one actual value (a list: any of its elements) satisfy the exception's value? */
export function fieldValueMatches(actual: unknown, expected: string): boolean {
  if (actual === undefined || actual === null) return false;
  if (Array.isArray(actual)) return actual.some((item) => fieldValueMatches(item, expected));
  if (typeof actual === 'object') return false;
  return valuePattern(expected).test(String(actual));
}

/** Does the exception cover this match? Scope first, then every field value must match. */
export function exceptionCovers(
  exception: AlertException,
  agent: Pick<AgentRecord, 'id' | 'groupId'>,
  values: (field: string) => unknown,
  now: number,
): boolean {
  if (exception.expiresAt && Date.parse(exception.expiresAt) <= now) return false;
  if (exception.scope === 'group' && exception.groupId !== agent.groupId) return false;
  if (exception.scope === 'agent' && exception.agentId !== agent.id) return false;
  return Object.entries(exception.fields).every(([field, expected]) =>
    fieldValueMatches(values(field), expected),
  );
}

export class ExceptionCache {
  private byRule = new Map<string, AlertException[]>();
  private version = -1;
  private loadedAt = 0;

  /** Forget the cache (this process changed exceptions). */
  invalidate(): void {
    this.version = -1;
  }

  private async refresh(db: Queryable): Promise<void> {
    const version = await currentExceptionsVersion(db);
    if (version === this.version && Date.now() - this.loadedAt < MAX_AGE_MS) return;
    const byRule = new Map<string, AlertException[]>();
    for (const exception of await loadLiveExceptions(db)) {
      const list = byRule.get(exception.ruleId) ?? [];
      list.push(exception);
      byRule.set(exception.ruleId, list);
    }
    this.byRule = byRule;
    this.version = version;
    this.loadedAt = Date.now();
  }

  /**
   * The exception that suppresses this match, after counting the hit on it (inside `tx`);
   * undefined when the match should raise its alert.
   */
  suppress(
    tx: Queryable,
    match: AlertMatch,
    event: VigilEvent,
    agent: AgentRecord,
  ): Promise<string | undefined> {
    return this.suppressWith(
      tx,
      match,
      agent,
      () => toSigma(event, { platform: agent.platform })?.fields ?? {},
    );
  }

  /** As `suppress`, for matches of events the collector observes itself (already in Sigma terms). */
  suppressSigma(
    tx: Queryable,
    match: AlertMatch,
    sigmaFields: Record<string, unknown>,
    agent: AgentRecord,
  ): Promise<string | undefined> {
    return this.suppressWith(tx, match, agent, () => sigmaFields);
  }

  private async suppressWith(
    tx: Queryable,
    match: AlertMatch,
    agent: AgentRecord,
    sigmaFields: () => Record<string, unknown>,
  ): Promise<string | undefined> {
    await this.refresh(tx);
    const candidates = this.byRule.get(match.ruleId);
    if (!candidates?.length) return undefined;
    let fields: Record<string, unknown> | undefined;
    const values = (field: string): unknown => {
      fields ??= sigmaFields();
      return fields[field] ?? match.evidence[field];
    };
    const now = Date.now();
    const covering = candidates.find((exception) => exceptionCovers(exception, agent, values, now));
    if (!covering) return undefined;
    await countExceptionHit(tx, covering.id, match.eventTime);
    return covering.id;
  }
}
