// Parses one Sigma rule (YAML text) and compiles it once into a matcher.
import { parseAllDocuments } from 'yaml';
import { compileDetection } from './detection.js';
import {
  invalid,
  RuleProblem,
  SigmaInvalidRuleError,
  SigmaUnsupportedRuleError,
  unsupported,
} from './errors.js';
import { EventView } from './event-view.js';

export const LEVELS = ['informational', 'low', 'medium', 'high', 'critical'] as const;
export type SigmaLevel = (typeof LEVELS)[number];

export interface SigmaLogsource {
  category?: string;
  product?: string;
  service?: string;
}

export interface SigmaRule {
  id: string;
  title: string;
  level: SigmaLevel;
  status?: string;
  tags: string[];
  logsource: SigmaLogsource;
  description?: string;
  falsepositives: string[];
  /** The YAML text the rule was compiled from. */
  source: string;
  match(fields: Record<string, unknown>): boolean;
}

export interface CompileOptions {
  /** Values for `%name%` placeholders used with the `expand` modifier. */
  placeholders?: Record<string, string[]>;
}

/** A compiled rule; `matchView` lets a RuleSet share one per-event cache between rules. */
export class CompiledSigmaRule implements SigmaRule {
  readonly id: string;
  readonly title: string;
  readonly level: SigmaLevel;
  readonly status?: string;
  readonly tags: string[];
  readonly logsource: SigmaLogsource;
  readonly description?: string;
  readonly falsepositives: string[];
  readonly source: string;
  readonly matchView: (event: EventView) => boolean;

  constructor(meta: Omit<SigmaRule, 'match'>, matcher: (event: EventView) => boolean) {
    this.id = meta.id;
    this.title = meta.title;
    this.level = meta.level;
    if (meta.status !== undefined) this.status = meta.status;
    this.tags = meta.tags;
    this.logsource = meta.logsource;
    if (meta.description !== undefined) this.description = meta.description;
    this.falsepositives = meta.falsepositives;
    this.source = meta.source;
    this.matchView = matcher;
  }

  match(fields: Record<string, unknown>): boolean {
    return this.matchView(new EventView(fields));
  }
}

const optionalString = (document: Record<string, unknown>, key: string): string | undefined => {
  const value = document[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`'${key}' must be a string`);
  return value;
};

const stringList = (document: Record<string, unknown>, key: string): string[] => {
  const value = document[key];
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw invalid(`'${key}' must be a list of strings`);
};

function readLogsource(value: unknown): SigmaLogsource {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('logsource must be a map');
  }
  const logsource: SigmaLogsource = {};
  for (const key of ['category', 'product', 'service'] as const) {
    const field = optionalString(value as Record<string, unknown>, key);
    if (field !== undefined) logsource[key] = field;
  }
  return logsource;
}

function parseDocument(yamlText: string): Record<string, unknown> {
  const documents = parseAllDocuments(yamlText);
  if (!Array.isArray(documents)) throw invalid('empty YAML');
  if (documents.length !== 1) {
    throw unsupported('multi-document rule collections are not supported');
  }
  const document = documents[0]!;
  if (document.errors.length > 0) {
    throw invalid(`YAML error: ${document.errors[0]!.message.split('\n')[0]}`);
  }
  const value: unknown = document.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('a rule must be a YAML map');
  }
  return value as Record<string, unknown>;
}

function build(yamlText: string, options: CompileOptions, setId: (id: string) => void): CompiledSigmaRule {
  const document = parseDocument(yamlText);
  const id = optionalString(document, 'id');
  if (id !== undefined) setId(id);
  if ('correlation' in document) throw unsupported('correlation rules are not supported');
  if ('filter' in document) throw unsupported('Sigma filter documents are not supported');
  if ('action' in document) throw unsupported(`'action' rule collections are not supported`);
  if (id === undefined || id.trim() === '') throw invalid('the rule needs an id');
  const title = optionalString(document, 'title');
  if (title === undefined || title.trim() === '') throw invalid('the rule needs a title');
  const levelText = optionalString(document, 'level') ?? 'medium';
  const level = LEVELS.find((candidate) => candidate === levelText);
  if (level === undefined) throw invalid(`unknown level '${levelText}'`);
  if (!('logsource' in document)) throw invalid('the rule needs a logsource');
  if (!('detection' in document)) throw invalid('the rule needs a detection');
  const logsource = readLogsource(document.logsource);
  const matcher = compileDetection(document.detection, options.placeholders ?? {});
  const status = optionalString(document, 'status');
  const description = optionalString(document, 'description');
  return new CompiledSigmaRule(
    {
      id,
      title,
      level,
      tags: stringList(document, 'tags'),
      logsource,
      falsepositives: stringList(document, 'falsepositives'),
      source: yamlText,
      ...(status === undefined ? {} : { status }),
      ...(description === undefined ? {} : { description }),
    },
    matcher,
  );
}

/** Compiles a Sigma rule; throws SigmaInvalidRuleError or SigmaUnsupportedRuleError, never a partial rule. */
export function compileRule(yamlText: string, options: CompileOptions = {}): CompiledSigmaRule {
  let ruleId: string | undefined;
  try {
    return build(yamlText, options, (id) => {
      ruleId = id;
    });
  } catch (error) {
    if (error instanceof RuleProblem) {
      throw error.kind === 'sigma_unsupported'
        ? new SigmaUnsupportedRuleError(ruleId, error.message)
        : new SigmaInvalidRuleError(ruleId, error.message);
    }
    if (error instanceof RangeError || error instanceof SyntaxError) {
      throw new SigmaInvalidRuleError(ruleId, error.message);
    }
    throw error;
  }
}
