// Detection: every Sigma rule compiled once at start, events routed to rules by logsource.
// `evaluate` is synchronous and pure so it can run inside the ingest transaction; `evaluateStored`
// adds the steps that read the database (the group's allowlist, the unexpected-process baseline).
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { VigilEvent } from '../../shared/events.js';
import type { AgentRecord } from '../agents/repository.js';
import type { AlertMatch } from '../alerts/repository.js';
import type { CollectorConfig } from '../config.js';
import type { Queryable } from '../db/db.js';
import { ConfigError } from '../errors.js';
import {
  allowlistCovers,
  checkUnexpectedProcess,
  listAllowlist,
  UNEXPECTED_PROCESS_RULE,
} from './baseline.js';
import { builtinRulesDir, loadRules } from './loader.js';
import { loadPlaceholders, type PlaceholderValues } from './placeholders.js';
import { RuleSet, type SigmaRule } from './sigma/index.js';
import { type SigmaMappedEvent, toSigma } from './taxonomy.js';

/** The built-in packet-socket rule: besides its own filter, the group's process allowlist applies. */
export const PACKET_SOCKET_RULE_ID = '5606f9b5-74cb-40db-865f-a2156999adae';

export interface Detection {
  rules: SigmaRule[];
  /** Values for `%name%` placeholders (--sigma-placeholders); uploads compile with them too. */
  placeholders: PlaceholderValues;
  evaluate(event: VigilEvent, agent: AgentRecord): AlertMatch[];
  /**
   * Everything an event stored in `tx` raises: the Sigma matches, less packet-socket holders the
   * group allows, plus the unexpected-process step (which also grows the baseline).
   */
  evaluateStored(tx: Queryable, event: VigilEvent, agent: AgentRecord): Promise<AlertMatch[]>;
  /** For events the collector itself observes (an agent going silent), already in Sigma terms. */
  evaluateSigma(
    sigma: SigmaMappedEvent,
    agent: AgentRecord,
    event: { id: string; time: Date; evidence: Record<string, unknown> },
  ): AlertMatch[];
  /** Turns a rule (Sigma or the unexpected-process baseline) off or back on; used by the rules API. */
  setEnabled(ruleId: string, enabled: boolean): void;
  isEnabled(ruleId: string): boolean;
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

/** Is the process holding a packet socket covered by its group's allowlist? */
async function packetHolderAllowed(tx: Queryable, event: VigilEvent, agent: AgentRecord): Promise<boolean> {
  if (event.type !== 'capture.packet_socket' || !event.data.exe) return false;
  const holder = { exe: event.data.exe, name: event.data.name, sha256: event.data.sha256 };
  return (await listAllowlist(tx, agent.groupId)).some((entry) => allowlistCovers(entry, holder));
}

export function createDetection(rules: SigmaRule[], placeholders: PlaceholderValues = {}): Detection {
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
  const evaluate: Detection['evaluate'] = (event, agent) => {
    const sigma = toSigma(event, { platform: agent.platform });
    if (!sigma) return [];
    return evaluateSigma(sigma, agent, {
      id: event.id,
      time: new Date(event.time),
      evidence: evidenceOf(event),
    });
  };
  return {
    get rules() {
      return [...ruleSet.rules];
    },
    placeholders,
    evaluateSigma,
    evaluate,
    async evaluateStored(tx, event, agent) {
      let matches = evaluate(event, agent);
      if (
        matches.some((m) => m.ruleId === PACKET_SOCKET_RULE_ID) &&
        (await packetHolderAllowed(tx, event, agent))
      ) {
        matches = matches.filter((m) => m.ruleId !== PACKET_SOCKET_RULE_ID);
      }
      // The baseline keeps learning while its alert is off; only the alert is dropped.
      const unexpected = await checkUnexpectedProcess(tx, agent, event);
      if (!disabled.has(UNEXPECTED_PROCESS_RULE.id)) matches.push(...unexpected);
      return matches;
    },
    setEnabled(ruleId, enabled) {
      if (enabled) disabled.delete(ruleId);
      else disabled.add(ruleId);
    },
    isEnabled(ruleId) {
      return !disabled.has(ruleId);
    },
    upsertRule(rule) {
      ruleSet = new RuleSet([...ruleSet.rules.filter((r) => r.id !== rule.id), rule]);
    },
  };
}

/**
 * The rules to run: the built-in ones, where a --rules-dir rule with a built-in's id replaces it.
 * Placeholder values apply to both folders.
 */
export function loadDetectionRules(
  rulesDir: string | undefined,
  placeholders: PlaceholderValues,
  log: { info(details: object, message: string): void; error(details: object, message: string): void },
): SigmaRule[] {
  const builtin = loadRules(builtinRulesDir, { placeholders });
  if (builtin.refused.length > 0) {
    throw new ConfigError(
      `built-in rules refused: ${JSON.stringify(builtin.refused)}`,
      'builtin_rule_invalid',
    );
  }
  if (!rulesDir) return builtin.rules;
  const extra = loadRules(rulesDir, { placeholders });
  for (const refused of extra.refused) log.error(refused, 'Sigma rule refused');
  const replacing = new Map(extra.rules.map((rule) => [rule.id, rule]));
  for (const rule of builtin.rules) {
    if (replacing.has(rule.id))
      log.info(
        { ruleId: rule.id, file: extra.files.get(rule.id) },
        'a --rules-dir rule replaces the built-in rule with its id',
      );
  }
  return [...builtin.rules.filter((rule) => !replacing.has(rule.id)), ...extra.rules];
}

export default fp(
  async (app: FastifyInstance, opts: { config: CollectorConfig }) => {
    const placeholders = loadPlaceholders(opts.config.sigmaPlaceholdersFile);
    const rules = loadDetectionRules(opts.config.rulesDir, placeholders, app.log);
    app.log.info({ rules: rules.length }, 'detection rules loaded');
    app.decorate('detection', createDetection(rules, placeholders));
  },
  { name: 'detection' },
);
