// Detection: every Sigma rule compiled once at start, events routed to rules by logsource.
// `evaluate` is synchronous and pure so it can run inside the ingest transaction.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { VigilEvent } from '../../shared/events.js';
import type { AgentRecord } from '../agents/repository.js';
import type { AlertMatch } from '../alerts/repository.js';
import type { CollectorConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { builtinRulesDir, loadRules } from './loader.js';
import { RuleSet, type SigmaRule } from './sigma/index.js';
import { type SigmaMappedEvent, toSigma } from './taxonomy.js';

export interface Detection {
  rules: SigmaRule[];
  evaluate(event: VigilEvent, agent: AgentRecord): AlertMatch[];
  /** For events the collector itself observes (an agent going silent), already in Sigma terms. */
  evaluateSigma(
    sigma: SigmaMappedEvent,
    agent: AgentRecord,
    event: { id: string; time: Date; evidence: Record<string, unknown> },
  ): AlertMatch[];
  /** Turns a rule off (its matches are dropped) or back on; used by the rules API. */
  setEnabled(ruleId: string, enabled: boolean): void;
  /** Adds a rule to the running set, replacing one with the same id (uploaded rules). */
  upsertRule(rule: SigmaRule): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    detection: Detection;
  }
}

const MAX_EVIDENCE_STRING = 2048;

/** The event's data as alert evidence, with long strings cut so one alert row stays small. */
function evidenceOf(event: VigilEvent): Record<string, unknown> {
  const evidence: Record<string, unknown> = { eventType: event.type };
  for (const [key, value] of Object.entries(event.data)) {
    evidence[key] =
      typeof value === 'string' && value.length > MAX_EVIDENCE_STRING
        ? `${value.slice(0, MAX_EVIDENCE_STRING)}…`
        : value;
  }
  return evidence;
}

export function createDetection(rules: SigmaRule[]): Detection {
  let ruleSet = new RuleSet(rules);
  const disabled = new Set<string>();
  const evaluateSigma: Detection['evaluateSigma'] = (sigma, agent, event) =>
    ruleSet
      .match(sigma)
      .filter((rule) => !disabled.has(rule.id))
      .map((rule) => ({
        ruleId: rule.id,
        ruleTitle: rule.title,
        level: rule.level,
        tags: rule.tags,
        agentId: agent.id,
        entity: sigma.entity,
        eventId: event.id,
        eventTime: event.time,
        evidence: event.evidence,
      }));
  return {
    get rules() {
      return [...ruleSet.rules];
    },
    evaluateSigma,
    setEnabled(ruleId, enabled) {
      if (enabled) disabled.delete(ruleId);
      else disabled.add(ruleId);
    },
    upsertRule(rule) {
      ruleSet = new RuleSet([...ruleSet.rules.filter((r) => r.id !== rule.id), rule]);
    },
    evaluate(event, agent) {
      const sigma = toSigma(event, { platform: agent.platform });
      if (!sigma) return [];
      return evaluateSigma(sigma, agent, {
        id: event.id,
        time: new Date(event.time),
        evidence: evidenceOf(event),
      });
    },
  };
}

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig }) => {
    const builtin = loadRules(builtinRulesDir);
    if (builtin.refused.length > 0) {
      throw new ConfigError(
        `built-in rules refused: ${JSON.stringify(builtin.refused)}`,
        'builtin_rule_invalid',
      );
    }
    const rules = [...builtin.rules];
    if (opts.config.rulesDir) {
      const extra = loadRules(opts.config.rulesDir);
      for (const refused of extra.refused) app.log.error(refused, 'Sigma rule refused');
      rules.push(...extra.rules);
    }
    app.log.info({ rules: rules.length }, 'detection rules loaded');
    app.decorate('detection', createDetection(rules));
  },
  { name: 'detection' },
);
