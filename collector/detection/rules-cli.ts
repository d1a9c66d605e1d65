// `rules test` and `rules lint`: try a Sigma rule on sample events (like wazuh-logtest) and check a rule
// folder before deploying it.
//   node dist/collector/detection/rules-cli.js test <rule.yml> <events.jsonl> [--sigma-placeholders FILE]
//   node dist/collector/detection/rules-cli.js lint <dir> [--sigma-placeholders FILE]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { VigilEvent } from '../../shared/events.js';
import { readOptions, UsageError } from '../../shared/options.js';
import { collectorOptions } from '../config.js';
import { ruleFiles } from './loader.js';
import { loadPlaceholders, type PlaceholderValues } from './placeholders.js';
import { compileRule, RuleSet, type SigmaRule, SigmaRuleError } from './sigma/index.js';
import { toSigma } from './taxonomy.js';

export interface RulesCliOptions {
  /** Values for `%name%` placeholders, as the collector gets them from --sigma-placeholders. */
  placeholders?: PlaceholderValues;
}

/** The options `rules test|lint` share with `start`: the same flag and environment variable. */
const rulesCliOptions = { 'sigma-placeholders': collectorOptions['sigma-placeholders'] };

export interface CliResult {
  output: string;
  exitCode: number;
}

const describeError = (error: unknown): string =>
  error instanceof SigmaRuleError
    ? `${error.code} ${error.ruleId ?? '(no id)'}: ${error.reason}`
    : (error as Error).message;

const isVigilEvent = (value: Record<string, unknown>): boolean =>
  typeof value.type === 'string' && value.data !== null && typeof value.data === 'object';

/** Decides whether one event line matches: Vigil events go through toSigma and logsource routing. */
function evaluateLine(rule: SigmaRule, ruleSet: RuleSet, value: Record<string, unknown>): boolean {
  if (!isVigilEvent(value)) return rule.match(value);
  const host = value.host as { platform?: unknown } | undefined;
  const platform = typeof host?.platform === 'string' ? host.platform : 'linux';
  const mapped = toSigma(value as unknown as VigilEvent, { platform });
  return mapped !== null && ruleSet.match(mapped).length > 0;
}

export async function rulesTest(
  rulePath: string,
  eventsPath: string,
  options: RulesCliOptions = {},
): Promise<CliResult> {
  let rule: SigmaRule;
  try {
    rule = compileRule(await readFile(rulePath, 'utf8'), options);
  } catch (error) {
    return { output: `rule ${rulePath} refused: ${describeError(error)}\n`, exitCode: 2 };
  }
  let text: string;
  try {
    text = await readFile(eventsPath, 'utf8');
  } catch (error) {
    return { output: `cannot read events ${eventsPath}: ${(error as Error).message}\n`, exitCode: 2 };
  }
  const ruleSet = new RuleSet([rule]);
  const lines: string[] = [`rule ${rule.id} "${rule.title}" (${rule.level})`];
  let events = 0;
  let matched = 0;
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      return { output: `${eventsPath}:${index + 1}: not JSON: ${(error as Error).message}\n`, exitCode: 2 };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { output: `${eventsPath}:${index + 1}: an event must be a JSON object\n`, exitCode: 2 };
    }
    events++;
    if (evaluateLine(rule, ruleSet, value as Record<string, unknown>)) {
      matched++;
      lines.push(`line ${index + 1}: MATCH ${JSON.stringify(value)}`);
    }
  }
  lines.push(`${matched} of ${events} events matched`);
  return { output: `${lines.join('\n')}\n`, exitCode: 0 };
}

export async function rulesLint(dir: string, options: RulesCliOptions = {}): Promise<CliResult> {
  let files: string[];
  try {
    files = ruleFiles(dir);
  } catch (error) {
    return { output: `cannot read ${dir}: ${(error as Error).message}\n`, exitCode: 2 };
  }
  const lines: string[] = [];
  let failed = 0;
  const seen = new Map<string, string>();
  for (const file of files) {
    const name = path.relative(dir, file);
    try {
      const rule = compileRule(await readFile(file, 'utf8'), options);
      const duplicate = seen.get(rule.id);
      if (duplicate !== undefined) {
        failed++;
        lines.push(`ERROR ${name}: sigma_invalid ${rule.id}: id already used by ${duplicate}`);
        continue;
      }
      seen.set(rule.id, name);
      lines.push(`OK    ${name}: ${rule.id} ${rule.title}`);
    } catch (error) {
      failed++;
      lines.push(`ERROR ${name}: ${describeError(error)}`);
    }
  }
  lines.push(`${files.length - failed} of ${files.length} rules OK`);
  return { output: `${lines.join('\n')}\n`, exitCode: failed > 0 ? 1 : 0 };
}

/** `rules test|lint` with their arguments and options; throws UsageError on bad usage. */
export async function rulesCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const { values, positionals } = readOptions(rulesCliOptions, argv, env);
  const [verb, ...args] = positionals;
  const placeholders = loadPlaceholders(values['sigma-placeholders']);
  if (verb === 'test' && args.length === 2) return rulesTest(args[0]!, args[1]!, { placeholders });
  if (verb === 'lint' && args.length === 1) return rulesLint(args[0]!, { placeholders });
  throw new UsageError('rules takes: test RULE.yml EVENTS.jsonl | lint DIR  [--sigma-placeholders FILE]');
}

async function main(argv: string[]): Promise<number> {
  let result: CliResult;
  try {
    result = await rulesCommand(argv);
  } catch (error) {
    process.stderr.write(`rules-cli: ${(error as Error).message}\n`);
    return 2;
  }
  process.stdout.write(result.output);
  return result.exitCode;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
