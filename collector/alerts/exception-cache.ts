// The live exceptions in memory, by rule, so the ingest path asks the database only for a version
// number per match. Any process that changes exceptions bumps the version; every process reloads
// when it sees a new one, and at least every 30 s (expiry).
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

/** Does the exception cover this match? Scope first, then every field value must be equal. */
export function exceptionCovers(
  exception: AlertException,
  agent: Pick<AgentRecord, 'id' | 'groupId'>,
  values: (field: string) => unknown,
  now: number,
): boolean {
  if (exception.expiresAt && Date.parse(exception.expiresAt) <= now) return false;
  if (exception.scope === 'group' && exception.groupId !== agent.groupId) return false;
  if (exception.scope === 'agent' && exception.agentId !== agent.id) return false;
  return Object.entries(exception.fields).every(([field, expected]) => {
    const actual = values(field);
    return actual !== undefined && actual !== null && String(actual) === expected;
  });
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
  async suppress(
    tx: Queryable,
    match: AlertMatch,
    event: VigilEvent,
    agent: AgentRecord,
  ): Promise<string | undefined> {
    await this.refresh(tx);
    const candidates = this.byRule.get(match.ruleId);
    if (!candidates?.length) return undefined;
    let fields: Record<string, unknown> | undefined;
    const values = (field: string): unknown => {
      fields ??= toSigma(event, { platform: agent.platform })?.fields ?? {};
      return fields[field] ?? match.evidence[field];
    };
    const now = Date.now();
    const covering = candidates.find((exception) => exceptionCovers(exception, agent, values, now));
    if (!covering) return undefined;
    await countExceptionHit(tx, covering.id, match.eventTime);
    return covering.id;
  }
}
