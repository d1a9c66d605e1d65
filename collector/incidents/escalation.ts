// Escalation rules (data, in escalation-rules.json) turn alerts into incidents. The ingest
// transaction does not call this: alerts wait on a queue (escalation_checked_at IS NULL) that the
// escalation worker claims with FOR UPDATE SKIP LOCKED, so several collectors share it safely.
import { readFileSync } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import { type Level, levels } from '../alerts/repository.js';
import type { Db, Queryable } from '../db/db.js';
import {
  type AlertFacts,
  addTimeline,
  alertsOfAgentBetween,
  claimAlertsToEscalate,
  findOpenIncidentByKey,
  getIncident,
  type IncidentRecord,
  markEscalationChecked,
} from './repository.js';
import { type IncidentContext, linkAlertsToIncident, openIncident, updateIncident } from './service.js';

export class EscalationRulesError extends Error {
  readonly code = 'ESCALATION_RULES_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'EscalationRulesError';
  }
}

/** What one alert must look like; every given field must hold. */
export interface AlertMatcher {
  levels?: Level[];
  tagsAny?: string[];
  ruleIds?: string[];
  /** Evidence field → accepted values (strings compared exactly). */
  evidence?: Record<string, string[]>;
}

export interface EscalationRule {
  id: string;
  /** Placeholders: {hostname} {ruleTitle} {ruleId} {level}, from the alert that completed the rule. */
  title: string;
  summary: string;
  severity: Level;
  /** Alerts on one agent, one per matcher, whose activity lies within withinMs of each other. */
  all: AlertMatcher[];
  withinMs: number;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function stringList(where: string, value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string')) {
    throw new EscalationRulesError(`${where} must be a non-empty list of strings`);
  }
  return value as string[];
}

function validateMatcher(where: string, raw: unknown): AlertMatcher {
  if (!isRecord(raw)) throw new EscalationRulesError(`${where} must be an object`);
  const matcher: AlertMatcher = {};
  for (const key of Object.keys(raw)) {
    if (!['levels', 'tagsAny', 'ruleIds', 'evidence'].includes(key)) {
      throw new EscalationRulesError(
        `${where}.${key} is not a matcher field (levels, tagsAny, ruleIds, evidence)`,
      );
    }
  }
  if (raw.levels !== undefined) {
    const list = stringList(`${where}.levels`, raw.levels);
    const bad = list.find((l) => !levels.includes(l as Level));
    if (bad) throw new EscalationRulesError(`${where}.levels has unknown level ${bad}`);
    matcher.levels = list as Level[];
  }
  if (raw.tagsAny !== undefined)
    matcher.tagsAny = stringList(`${where}.tagsAny`, raw.tagsAny).map((t) => t.toLowerCase());
  if (raw.ruleIds !== undefined) matcher.ruleIds = stringList(`${where}.ruleIds`, raw.ruleIds);
  if (raw.evidence !== undefined) {
    if (!isRecord(raw.evidence)) throw new EscalationRulesError(`${where}.evidence must be an object`);
    matcher.evidence = Object.fromEntries(
      Object.entries(raw.evidence).map(([field, values]) => [
        field,
        stringList(`${where}.evidence.${field}`, values),
      ]),
    );
  }
  if (Object.keys(matcher).length === 0)
    throw new EscalationRulesError(`${where} matches every alert; give a condition`);
  return matcher;
}

export function validateEscalationRules(raw: unknown): EscalationRule[] {
  if (!isRecord(raw) || !Array.isArray(raw.rules))
    throw new EscalationRulesError('the file needs rules: [...]');
  const seen = new Set<string>();
  return raw.rules.map((entry: unknown, index): EscalationRule => {
    const where = `rules[${index}]`;
    if (!isRecord(entry)) throw new EscalationRulesError(`${where} must be an object`);
    const id = entry.id;
    if (typeof id !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(id)) {
      throw new EscalationRulesError(`${where}.id must be lower-case letters, digits and dashes`);
    }
    if (seen.has(id)) throw new EscalationRulesError(`duplicate rule id ${id}`);
    seen.add(id);
    if (typeof entry.title !== 'string' || entry.title.length === 0)
      throw new EscalationRulesError(`${where}.title is required`);
    if (!levels.includes(entry.severity as Level))
      throw new EscalationRulesError(`${where}.severity must be a level`);
    if (!Array.isArray(entry.all) || entry.all.length === 0)
      throw new EscalationRulesError(`${where}.all needs matchers`);
    const withinMs = entry.withinMs ?? 3_600_000;
    if (typeof withinMs !== 'number' || !Number.isFinite(withinMs) || withinMs < 0) {
      throw new EscalationRulesError(`${where}.withinMs must be a non-negative number`);
    }
    return {
      id,
      title: entry.title,
      summary: typeof entry.summary === 'string' ? entry.summary : '',
      severity: entry.severity as Level,
      all: entry.all.map((m: unknown, i) => validateMatcher(`${where}.all[${i}]`, m)),
      withinMs,
    };
  });
}

/** The rules file (the built-in escalation-rules.json unless another path is given), validated. */
export function loadEscalationRules(file?: string): EscalationRule[] {
  const url = file ?? new URL('./escalation-rules.json', import.meta.url);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(url, 'utf8'));
  } catch (err) {
    throw new EscalationRulesError(`cannot read escalation rules ${String(url)}: ${(err as Error).message}`);
  }
  return validateEscalationRules(raw);
}

export function matchesAlert(matcher: AlertMatcher, alert: AlertFacts): boolean {
  if (matcher.levels && !matcher.levels.includes(alert.level)) return false;
  if (matcher.ruleIds && !matcher.ruleIds.includes(alert.ruleId)) return false;
  if (matcher.tagsAny) {
    const tags = alert.tags.map((t) => t.toLowerCase());
    if (!matcher.tagsAny.some((t) => tags.includes(t))) return false;
  }
  if (matcher.evidence) {
    for (const [field, accepted] of Object.entries(matcher.evidence)) {
      const value = alert.evidence[field];
      if (typeof value !== 'string' || !accepted.includes(value)) return false;
    }
  }
  return true;
}

/**
 * The alerts that complete `rule` together with `alert`, or undefined. `alert` takes one matcher it
 * fits; every other matcher takes the most recent candidate that fits it.
 */
export function completeRule(
  rule: EscalationRule,
  alert: AlertFacts,
  candidates: AlertFacts[],
): AlertFacts[] | undefined {
  for (let own = 0; own < rule.all.length; own++) {
    if (!matchesAlert(rule.all[own]!, alert)) continue;
    const group = [alert];
    const complete = rule.all.every((matcher, index) => {
      if (index === own) return true;
      const near = candidates.find(
        (c) =>
          !group.some((g) => g.id === c.id) &&
          matchesAlert(matcher, c) &&
          c.lastSeen.getTime() >= alert.firstSeen.getTime() - rule.withinMs &&
          c.firstSeen.getTime() <= alert.lastSeen.getTime() + rule.withinMs,
      );
      if (near) group.push(near);
      return near !== undefined;
    });
    if (complete) return group;
  }
  return undefined;
}

const fill = (template: string, alert: AlertFacts) =>
  template
    .replaceAll('{hostname}', alert.hostname)
    .replaceAll('{ruleTitle}', alert.ruleTitle)
    .replaceAll('{ruleId}', alert.ruleId)
    .replaceAll('{level}', alert.level);

export interface EscalationOutcome {
  evaluated: number;
  opened: string[];
  linked: string[];
}

/**
 * Opens an incident for a completed rule, or adds the group to the open incident it already has.
 * A closed incident is never a target: activity that recurs after closing opens a new incident with
 * the alerts not linked yet (an alert of the closed incident stays there, named in the timeline).
 */
async function escalate(
  tx: Queryable,
  ctx: IncidentContext,
  rule: EscalationRule,
  group: AlertFacts[],
  incidentOf: Map<string, string | null>,
  outcome: EscalationOutcome,
): Promise<void> {
  const trigger = group[0]!;
  const actor = `rule:${rule.id}`;
  const key = `${rule.id}|${trigger.agentId}`;
  const linkedOf = (a: AlertFacts) => incidentOf.get(a.id) ?? a.incidentId;
  const closedLinks: Array<{ alertId: string; incidentId: string }> = [];
  let incident: IncidentRecord | undefined;
  for (const alert of group) {
    const linkedId = linkedOf(alert);
    if (!linkedId) continue;
    const linked = await getIncident(tx, linkedId);
    if (linked && linked.status !== 'closed') incident ??= linked;
    else closedLinks.push({ alertId: alert.id, incidentId: linkedId });
  }
  const free = group.filter((a) => !linkedOf(a)).map((a) => a.id);
  if (!incident) {
    const opened = await openIncident(
      tx,
      ctx,
      {
        title: fill(rule.title, trigger),
        summary: fill(rule.summary, trigger),
        severity: rule.severity,
        alertIds: free,
        escalationKey: key,
      },
      actor,
    );
    if (opened) {
      outcome.opened.push(opened.id);
      for (const id of free) incidentOf.set(id, opened.id);
      if (closedLinks.length > 0)
        await addTimeline(tx, opened.id, actor, 'alerts.recurred', { closedIncidentAlerts: closedLinks });
      return;
    }
    incident = await findOpenIncidentByKey(tx, key);
    if (!incident) return;
  }
  const linked = await linkAlertsToIncident(tx, incident.id, free, actor);
  for (const id of linked) incidentOf.set(id, incident.id);
  outcome.linked.push(...linked);
  if (levels.indexOf(rule.severity) > levels.indexOf(incident.severity)) {
    await updateIncident(tx, ctx, incident.id, { severity: rule.severity }, actor);
  }
}

/** Claims a batch of alerts, applies every rule to each, and marks them evaluated — one transaction. */
export async function runEscalationPass(
  db: Db,
  ctx: IncidentContext,
  rules: EscalationRule[],
  batchSize = 100,
): Promise<EscalationOutcome> {
  return db.transaction(async (tx) => {
    const outcome: EscalationOutcome = { evaluated: 0, opened: [], linked: [] };
    const claimed = await claimAlertsToEscalate(tx, batchSize);
    const incidentOf = new Map<string, string | null>(claimed.map((a) => [a.id, a.incidentId]));
    for (const alert of claimed) {
      if (alert.status === 'false_positive') continue;
      // Escalation rules group alerts per workstation; a collector alert has none (it is still
      // marked checked below, so it leaves the queue).
      if (alert.agentId === null) continue;
      for (const rule of rules) {
        if (!rule.all.some((m) => matchesAlert(m, alert))) continue;
        const candidates =
          rule.all.length > 1
            ? await alertsOfAgentBetween(
                tx,
                alert.agentId,
                new Date(alert.firstSeen.getTime() - rule.withinMs),
                new Date(alert.lastSeen.getTime() + rule.withinMs),
              )
            : [];
        const group = completeRule(rule, alert, candidates);
        if (group) await escalate(tx, ctx, rule, group, incidentOf, outcome);
      }
    }
    outcome.evaluated = claimed.length;
    if (claimed.length > 0)
      await markEscalationChecked(
        tx,
        claimed.map((a) => a.id),
      );
    return outcome;
  });
}

/** A periodic job: runs `pass` every `intervalMs` (and at once on `wake`) until stopped. */
export class PeriodicJob {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = true;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    /** Returns true when it did a full batch and should run again right away. */
    private readonly pass: () => Promise<boolean>,
    private readonly log: FastifyBaseLogger,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.loop().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.intervalMs);
      });
    }, delayMs);
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopped && (await this.pass())) {}
    } catch (err) {
      this.log.error({ err, job: this.name }, 'background job pass failed');
    }
  }
}
