// Values for Sigma placeholders (`%admin_hosts%` with the `expand` modifier), read from a YAML file
// shaped like sigma-cli's placeholder configuration: a map of placeholder name → list of values
// (a single scalar is a one-value list). Without a value for its placeholder a rule is refused.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from '../errors.js';

export type PlaceholderValues = Record<string, string[]>;

export class PlaceholdersFileError extends ConfigError {
  constructor(file: string, problem: string) {
    super(`Sigma placeholders file ${file}: ${problem}`, 'sigma_placeholders_invalid');
  }
}

const isScalar = (value: unknown): value is string | number | boolean =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

export function parsePlaceholders(text: string, file = '(inline)'): PlaceholderValues {
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new PlaceholdersFileError(file, `not YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (document === null || document === undefined) return {};
  if (typeof document !== 'object' || Array.isArray(document)) {
    throw new PlaceholdersFileError(file, 'must be a map of placeholder name → list of values');
  }
  const values: PlaceholderValues = {};
  for (const [name, value] of Object.entries(document)) {
    const list = Array.isArray(value) ? value : [value];
    if (!list.every(isScalar)) {
      throw new PlaceholdersFileError(file, `placeholder ${name} must be a value or a list of values`);
    }
    values[name] = list.map(String);
  }
  return values;
}

/** The placeholders of `file`, or none when no file is configured. */
export function loadPlaceholders(file: string | undefined): PlaceholderValues {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PlaceholdersFileError(file, (error as Error).message);
  }
  return parsePlaceholders(text, file);
}
