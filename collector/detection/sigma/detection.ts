// Compiles the `detection` section: each search identifier into a predicate, then the condition over them.
import { compileCondition, parseCondition } from './condition.js';
import { cheapestFirst, totalCost, withCost } from './cost.js';
import { invalid, unsupported } from './errors.js';
import type { EventView } from './event-view.js';
import { compileField, type Placeholders, type Predicate, parseFieldKey } from './field-matcher.js';

type Scalar = string | number | boolean | null;

const isScalar = (value: unknown): value is Scalar =>
  value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function fieldValues(key: string, value: unknown): Scalar[] {
  if (isScalar(value)) return [value];
  if (Array.isArray(value) && value.every(isScalar)) return value;
  throw invalid(`'${key}' must be a value or a list of values`);
}

/** A map is AND over its fields. */
function compileMap(map: Record<string, unknown>, placeholders: Placeholders): Predicate {
  const keys = Object.keys(map);
  if (keys.length === 0) throw invalid('empty selection map');
  const predicates = cheapestFirst(
    keys.map((key) => {
      const { field, modifiers } = parseFieldKey(key);
      return compileField({ field, modifiers, values: fieldValues(key, map[key]), placeholders });
    }),
  );
  if (predicates.length === 1) return predicates[0]!;
  return withCost((event) => {
    for (const predicate of predicates) if (!predicate(event)) return false;
    return true;
  }, totalCost(predicates));
}

/** A keyword list searches every field value; its entries are alternatives. */
function compileKeywords(keywords: Scalar[], placeholders: Placeholders): Predicate {
  return compileField({ field: '', modifiers: [], values: keywords, placeholders });
}

function compileIdentifier(name: string, value: unknown, placeholders: Placeholders): Predicate {
  if (isMap(value)) return compileMap(value, placeholders);
  if (isScalar(value)) {
    if (value === null) throw invalid(`search identifier '${name}' is empty`);
    return compileKeywords([value], placeholders);
  }
  if (!Array.isArray(value) || value.length === 0) throw invalid(`search identifier '${name}' is empty`);
  // A list is OR: maps are sub-selections, plain values are keywords.
  const keywords = value.filter(isScalar);
  const predicates: Predicate[] = [];
  if (keywords.length > 0) predicates.push(compileKeywords(keywords, placeholders));
  for (const item of value) {
    if (isMap(item)) predicates.push(compileMap(item, placeholders));
    else if (!isScalar(item)) throw invalid(`search identifier '${name}' holds a nested list`);
  }
  if (predicates.length === 1) return predicates[0]!;
  const ordered = cheapestFirst(predicates);
  return withCost((event) => {
    for (const predicate of ordered) if (predicate(event)) return true;
    return false;
  }, totalCost(ordered));
}

export function compileDetection(
  detection: unknown,
  placeholders: Placeholders,
): (event: EventView) => boolean {
  if (!isMap(detection)) throw invalid('detection must be a map');
  if ('timeframe' in detection) throw unsupported('timeframe (aggregation over time) is not supported');
  const { condition, ...searches } = detection;
  const conditions = typeof condition === 'string' ? [condition] : condition;
  if (
    !Array.isArray(conditions) ||
    conditions.length === 0 ||
    !conditions.every((c) => typeof c === 'string')
  ) {
    throw invalid('detection.condition must be a string or a list of strings');
  }
  const identifiers = new Map<string, Predicate>();
  for (const [name, value] of Object.entries(searches)) {
    identifiers.set(name, compileIdentifier(name, value, placeholders));
  }
  // Several conditions mean the rule fires when any of them holds.
  const evaluators = (conditions as string[]).map((text) =>
    compileCondition(parseCondition(text), identifiers),
  );
  if (evaluators.length === 1) return evaluators[0]!;
  return (event) => evaluators.some((evaluator) => evaluator(event));
}
