// Routes each event to the rules whose logsource fits, then matches them over one shared event view.
import { EventView } from './event-view.js';
import { CompiledSigmaRule, type SigmaLogsource, type SigmaRule } from './rule.js';

export interface SigmaEvent {
  logsource: SigmaLogsource;
  fields: Record<string, unknown>;
}

type Matcher = { rule: SigmaRule; test: (event: EventView) => boolean };

const LOGSOURCE_KEYS = ['category', 'product', 'service'] as const;
const MAX_ROUTES = 1024;

const normalize = (value: string | undefined): string | undefined => value?.toLowerCase();

export class RuleSet {
  readonly rules: readonly SigmaRule[];
  /** Rules that fit each distinct event logsource, computed once per logsource seen. */
  private readonly routes = new Map<string, Matcher[]>();
  private readonly matchers: Matcher[];

  constructor(rules: SigmaRule[]) {
    this.rules = [...rules];
    this.matchers = this.rules.map((rule) => ({
      rule,
      test:
        rule instanceof CompiledSigmaRule
          ? rule.matchView
          : (event: EventView) => rule.match(event.fields as Record<string, unknown>),
    }));
  }

  get size(): number {
    return this.rules.length;
  }

  /** Rules whose logsource fits the event and whose detection matches it. */
  match(event: SigmaEvent): SigmaRule[] {
    const candidates = this.route(event.logsource);
    if (candidates.length === 0) return [];
    const view = new EventView(event.fields);
    let matched: SigmaRule[] | undefined;
    for (const candidate of candidates) {
      if (!candidate.test(view)) continue;
      if (matched === undefined) matched = [candidate.rule];
      else matched.push(candidate.rule);
    }
    return matched ?? [];
  }

  /** The rules a logsource is routed to: every logsource field a rule sets must equal the event's. */
  rulesFor(logsource: SigmaLogsource): SigmaRule[] {
    return this.route(logsource).map((candidate) => candidate.rule);
  }

  private route(logsource: SigmaLogsource): Matcher[] {
    const key = `${normalize(logsource.category) ?? ''}\u0000${normalize(logsource.product) ?? ''}\u0000${
      normalize(logsource.service) ?? ''
    }`;
    let candidates = this.routes.get(key);
    if (candidates === undefined) {
      candidates = this.matchers.filter(({ rule }) =>
        LOGSOURCE_KEYS.every((name) => {
          const wanted = normalize(rule.logsource[name]);
          return wanted === undefined || wanted === normalize(logsource[name]);
        }),
      );
      // Logsources come from events; a flood of distinct made-up ones must not grow memory without bound.
      if (this.routes.size >= MAX_ROUTES) this.routes.clear();
      this.routes.set(key, candidates);
    }
    return candidates;
  }
}
