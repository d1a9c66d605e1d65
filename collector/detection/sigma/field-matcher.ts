// Compiles one `Field|modifier|...: value(s)` entry into a predicate over an event, once per rule.
import ipaddr from 'ipaddr.js';
import { withCost } from './cost.js';
import { invalid, unsupported } from './errors.js';
import { type EventView, type FieldValues, fieldSlot, someValue } from './event-view.js';
import {
  compilePatterns,
  literalPattern,
  lowerPattern,
  type Pattern,
  parsePattern,
  plainText,
  windashVariants,
  withLeadingStar,
  withTrailingStar,
} from './pattern.js';

export type Predicate = (event: EventView) => boolean;
export type Placeholders = Readonly<Record<string, readonly string[]>>;

const KNOWN_MODIFIERS = new Set([
  'contains',
  'startswith',
  'endswith',
  'all',
  'windash',
  're',
  'i',
  'm',
  's',
  'cidr',
  'exists',
  'cased',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'base64',
  'base64offset',
  'utf16le',
  'utf16be',
  'utf16',
  'wide',
  'fieldref',
  'expand',
]);
const TIME_MODIFIERS = new Set(['minute', 'hour', 'day', 'week', 'month', 'year']);
const COMPARISONS = new Set(['lt', 'lte', 'gt', 'gte']);
const RE_FLAGS = new Set(['i', 'm', 's']);
const PATTERN_SHAPES = new Set(['contains', 'startswith', 'endswith']);

type Scalar = string | number | boolean | null;

/** The value after the transforming modifiers: a Sigma string pattern, raw bytes, or null. */
type Value = { kind: 'pattern'; pattern: Pattern } | { kind: 'bytes'; bytes: Buffer } | { kind: 'null' };

export interface FieldSpec {
  /** '' for a keyword search across all fields. */
  field: string;
  modifiers: string[];
  values: Scalar[];
  placeholders: Placeholders;
}

export function parseFieldKey(key: string): { field: string; modifiers: string[] } {
  const [field = '', ...modifiers] = key.split('|');
  for (const modifier of modifiers) {
    if (TIME_MODIFIERS.has(modifier)) throw unsupported(`time modifier '${modifier}' is not supported`);
    if (!KNOWN_MODIFIERS.has(modifier)) throw unsupported(`unknown modifier '${modifier}' on '${key}'`);
  }
  return { field, modifiers };
}

export function compileField(spec: FieldSpec): Predicate {
  const { modifiers } = spec;
  const has = (name: string) => modifiers.includes(name);
  if (spec.values.length === 0) throw invalid(`'${spec.field}' has an empty list of values`);
  if (has('exists')) return compileExists(spec);
  if (has('re')) return compileRegex(spec);
  if (has('cidr')) return compileCidr(spec);
  const comparison = modifiers.find((modifier) => COMPARISONS.has(modifier));
  if (comparison !== undefined) return compileComparison(spec, comparison);
  if (has('fieldref')) return compileFieldRef(spec);
  for (const flag of RE_FLAGS) {
    if (has(flag)) throw invalid(`modifier '${flag}' is only valid after 're'`);
  }
  return compileStringMatch(spec);
}

function onlyAllowed(spec: FieldSpec, main: string, allowed: readonly string[]): void {
  for (const modifier of spec.modifiers) {
    if (modifier !== main && !allowed.includes(modifier)) {
      throw unsupported(`modifier '${modifier}' cannot be combined with '${main}'`);
    }
  }
}

function combine(tests: Predicate[], all: boolean, unitCost: number): Predicate {
  const cost = tests.length * unitCost;
  if (tests.length === 1) return withCost(tests[0]!, cost);
  return withCost(
    all ? (event) => tests.every((test) => test(event)) : (event) => tests.some((test) => test(event)),
    cost,
  );
}

function requireField(spec: FieldSpec, modifier: string): void {
  if (spec.field === '') throw unsupported(`'${modifier}' needs a field name`);
}

function compileExists(spec: FieldSpec): Predicate {
  onlyAllowed(spec, 'exists', []);
  requireField(spec, 'exists');
  const [expected] = spec.values;
  if (spec.values.length !== 1 || typeof expected !== 'boolean') {
    throw invalid(`'${spec.field}|exists' needs a single true/false value`);
  }
  const slot = fieldSlot(spec.field);
  return withCost(expected ? (event) => event.has(slot) : (event) => !event.has(slot), 1);
}

/** Python-style inline flags and named groups are translated; JS has no inline `(?i)`. */
function translateRegex(source: string, flags: Set<string>): string {
  let body = source;
  const inline = /^\(\?([imsx]+)\)/.exec(body);
  if (inline) {
    for (const flag of inline[1]!) {
      if (flag === 'x') throw unsupported('regex verbose flag (?x) is not supported');
      flags.add(flag);
    }
    body = body.slice(inline[0].length);
  }
  if (/\(\?[imsx-]+[:)]/.test(body))
    throw unsupported('regex inline flags inside the pattern are not supported');
  return body.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
}

function compileRegex(spec: FieldSpec): Predicate {
  onlyAllowed(spec, 're', ['i', 'm', 's', 'all']);
  const flags = new Set(spec.modifiers.filter((modifier) => RE_FLAGS.has(modifier)));
  const regexes = spec.values.map((value) => {
    if (typeof value !== 'string') throw invalid(`'${spec.field}|re' needs string values`);
    const valueFlags = new Set(flags);
    const body = translateRegex(value, valueFlags);
    try {
      return new RegExp(body, [...valueFlags].join(''));
    } catch (error) {
      throw invalid(`bad regular expression ${JSON.stringify(value)}: ${(error as Error).message}`);
    }
  });
  const field = spec.field;
  const slot = fieldSlot(field);
  const read =
    field === '' ? (event: EventView) => event.allStrings() : (event: EventView) => event.strings(slot);
  const tests = regexes.map(
    (regex): Predicate =>
      (event) =>
        someValue(read(event), (value) => regex.test(value)),
  );
  return combine(tests, spec.modifiers.includes('all'), field === '' ? 40 : 5);
}

type Address = ipaddr.IPv4 | ipaddr.IPv6;

function parseAddress(text: string): Address | null {
  if (!ipaddr.isValid(text)) return null;
  const address = ipaddr.parse(text);
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is compared as the IPv4 address it carries.
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()
    ? (address as ipaddr.IPv6).toIPv4Address()
    : address;
}

function compileCidr(spec: FieldSpec): Predicate {
  onlyAllowed(spec, 'cidr', ['all']);
  requireField(spec, 'cidr');
  const ranges = spec.values.map((value): [Address, number] => {
    if (typeof value !== 'string') throw invalid(`'${spec.field}|cidr' needs string values`);
    const text = value.includes('/') ? value : `${value}/${value.includes(':') ? 128 : 32}`;
    try {
      return ipaddr.parseCIDR(text);
    } catch {
      throw invalid(`bad CIDR ${JSON.stringify(value)}`);
    }
  });
  const slot = fieldSlot(spec.field);
  const tests = ranges.map(
    ([network, bits]): Predicate =>
      (event) =>
        someValue(event.strings(slot), (value) => {
          const address = parseAddress(value.trim());
          return address !== null && address.kind() === network.kind() && address.match(network, bits);
        }),
  );
  return combine(tests, spec.modifiers.includes('all'), 5);
}

function compileComparison(spec: FieldSpec, operator: string): Predicate {
  onlyAllowed(spec, operator, ['all']);
  requireField(spec, operator);
  const field = spec.field;
  const slot = fieldSlot(field);
  const compare: Record<string, (left: number, right: number) => boolean> = {
    lt: (left, right) => left < right,
    lte: (left, right) => left <= right,
    gt: (left, right) => left > right,
    gte: (left, right) => left >= right,
  };
  const operation = compare[operator]!;
  const tests = spec.values.map((value): Predicate => {
    if (typeof value !== 'number') throw invalid(`'${field}|${operator}' needs numeric values`);
    return (event) =>
      someValue(event.strings(slot), (text) => {
        const number = text.trim() === '' ? Number.NaN : Number(text);
        return !Number.isNaN(number) && operation(number, value);
      });
  });
  return combine(tests, spec.modifiers.includes('all'), 2);
}

function compileFieldRef(spec: FieldSpec): Predicate {
  onlyAllowed(spec, 'fieldref', ['contains', 'startswith', 'endswith', 'cased', 'neq', 'all']);
  requireField(spec, 'fieldref');
  const field = spec.field;
  const cased = spec.modifiers.includes('cased');
  const shape = spec.modifiers.find((modifier) => PATTERN_SHAPES.has(modifier));
  const relation = (value: string, reference: string): boolean =>
    shape === 'contains'
      ? value.includes(reference)
      : shape === 'startswith'
        ? value.startsWith(reference)
        : shape === 'endswith'
          ? value.endsWith(reference)
          : value === reference;
  const negate = spec.modifiers.includes('neq');
  const read = cased
    ? (event: EventView, slot: number) => event.strings(slot)
    : (event: EventView, slot: number) => event.lower(slot);
  const fieldSlotNumber = fieldSlot(field);
  const tests = spec.values.map((reference): Predicate => {
    if (typeof reference !== 'string' || reference === '')
      throw invalid(`'${field}|fieldref' needs field names`);
    const referenceSlot = fieldSlot(reference);
    return (event) => {
      const values = read(event, fieldSlotNumber);
      const references: FieldValues = read(event, referenceSlot);
      if (values === null || references === null) return false;
      const related = someValue(values, (value) => someValue(references, (other) => relation(value, other)));
      return negate ? !related : related;
    };
  });
  return combine(tests, spec.modifiers.includes('all'), 3);
}

function scalarToValue(value: Scalar): Value {
  if (value === null) return { kind: 'null' };
  if (typeof value === 'string') return { kind: 'pattern', pattern: parsePattern(value) };
  return { kind: 'pattern', pattern: literalPattern(String(value)) };
}

function expandPlaceholders(pattern: Pattern, placeholders: Placeholders): Pattern[] {
  let variants: Pattern[] = [[]];
  for (const token of pattern) {
    if (typeof token !== 'string') {
      variants = variants.map((variant) => [...variant, token]);
      continue;
    }
    const pieces = token.split(/(%[^%\s]+%)/);
    for (const piece of pieces) {
      if (piece === '') continue;
      const name = /^%([^%\s]+)%$/.exec(piece)?.[1];
      if (name === undefined) {
        variants = variants.map((variant) => [...variant, piece]);
        continue;
      }
      const replacements = placeholders[name];
      if (replacements === undefined || replacements.length === 0) {
        throw unsupported(
          `placeholder %${name}% has no values configured (give them in the --sigma-placeholders file)`,
        );
      }
      variants = variants.flatMap((variant) =>
        replacements.map((text) => [...variant, ...parsePattern(text)]),
      );
    }
  }
  return variants;
}

function toBytes(value: Value, modifier: string): Buffer {
  if (value.kind === 'bytes') return value.bytes;
  if (value.kind === 'null') throw invalid(`'${modifier}' cannot apply to null`);
  const text = plainText(value.pattern);
  if (text === null) throw unsupported(`'${modifier}' cannot apply to a value with wildcards`);
  return Buffer.from(text, 'utf8');
}

function toText(value: Value, modifier: string): string {
  if (value.kind === 'bytes')
    throw unsupported(`'${modifier}' needs text, apply base64 after an utf16 modifier`);
  if (value.kind === 'null') throw invalid(`'${modifier}' cannot apply to null`);
  const text = plainText(value.pattern);
  if (text === null) throw unsupported(`'${modifier}' cannot apply to a value with wildcards`);
  return text;
}

const utf16le = (text: string): Buffer => Buffer.from(text, 'utf16le');
const swapBytes = (buffer: Buffer): Buffer => Buffer.from(buffer).swap16();

/** pySigma's three shifted encodings, trimmed to the characters that do not depend on the neighbours. */
function base64Offsets(bytes: Buffer): string[] {
  const startOffsets = [0, 2, 3];
  const endOffsets = [undefined, -3, -2];
  return [0, 1, 2].map((shift) => {
    const encoded = Buffer.concat([Buffer.alloc(shift, ' '), bytes]).toString('base64');
    return encoded.slice(startOffsets[shift], endOffsets[(bytes.length + shift) % 3]);
  });
}

/** Applies the transforming modifiers in the order written; one value can expand into several. */
function transform(value: Value, modifier: string, placeholders: Placeholders): Value[] {
  const asPattern = (pattern: Pattern): Value => ({ kind: 'pattern', pattern });
  if (value.kind === 'null' && modifier !== 'cased' && modifier !== 'all' && modifier !== 'neq') {
    throw invalid(`modifier '${modifier}' cannot apply to null`);
  }
  switch (modifier) {
    case 'contains':
    case 'startswith':
    case 'endswith': {
      if (value.kind !== 'pattern') throw unsupported(`'${modifier}' needs text, apply base64 first`);
      let pattern = value.pattern;
      if (modifier !== 'startswith') pattern = withLeadingStar(pattern);
      if (modifier !== 'endswith') pattern = withTrailingStar(pattern);
      return [asPattern(pattern)];
    }
    case 'windash':
      if (value.kind !== 'pattern') throw unsupported(`'windash' needs text`);
      return windashVariants(value.pattern).map(asPattern);
    case 'expand':
      if (value.kind !== 'pattern') throw unsupported(`'expand' needs text`);
      return expandPlaceholders(value.pattern, placeholders).map(asPattern);
    case 'base64':
      return [asPattern(literalPattern(toBytes(value, modifier).toString('base64')))];
    case 'base64offset':
      return base64Offsets(toBytes(value, modifier)).map((text) => asPattern(literalPattern(text)));
    case 'utf16le':
    case 'wide':
      return [{ kind: 'bytes', bytes: utf16le(toText(value, modifier)) }];
    case 'utf16be':
      return [{ kind: 'bytes', bytes: swapBytes(utf16le(toText(value, modifier))) }];
    case 'utf16':
      return [
        {
          kind: 'bytes',
          bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), utf16le(toText(value, modifier))]),
        },
      ];
    default:
      return [value];
  }
}

function compileStringMatch(spec: FieldSpec): Predicate {
  const cased = spec.modifiers.includes('cased');
  const negate = spec.modifiers.includes('neq');
  const all = spec.modifiers.includes('all');
  const keyword = spec.field === '';
  if (negate && keyword) throw unsupported(`'neq' needs a field name`);
  // Each written value keeps its own expansions together: with `all`, every written value must match,
  // and any of its expansions (windash, base64offset...) satisfies it.
  const groups = spec.values.map((scalar) => {
    let values: Value[] = [scalarToValue(scalar)];
    for (const modifier of spec.modifiers) {
      values = values.flatMap((value) => transform(value, modifier, spec.placeholders));
    }
    // A keyword is searched anywhere in a value, as a full-text search would, unless it says where.
    if (keyword && !spec.modifiers.some((modifier) => PATTERN_SHAPES.has(modifier))) {
      values = values.map((value) =>
        value.kind === 'pattern'
          ? { kind: 'pattern', pattern: withTrailingStar(withLeadingStar(value.pattern)) }
          : value,
      );
    }
    return values;
  });
  const slot = fieldSlot(spec.field);
  const read: (event: EventView) => FieldValues = keyword
    ? cased
      ? (event: EventView) => event.allStrings()
      : (event: EventView) => event.allLowerStrings()
    : cased
      ? (event: EventView) => event.strings(slot)
      : (event: EventView) => event.lower(slot);
  const groupPatterns = groups.map((values) => {
    let matchesNull = false;
    const patterns: Pattern[] = [];
    for (const value of values) {
      if (value.kind === 'null') {
        if (keyword) throw invalid('a keyword cannot be null');
        matchesNull = true;
      } else if (value.kind === 'bytes') {
        const text = value.bytes.toString('latin1');
        patterns.push(literalPattern(cased ? text : text.toLowerCase()));
      } else patterns.push(cased ? value.pattern : lowerPattern(value.pattern));
    }
    return { matchesNull, patterns };
  });
  const compileGroup = (group: { matchesNull: boolean; patterns: Pattern[] }) => ({
    matchesNull: group.matchesNull,
    size: group.patterns.length,
    test: compilePatterns(group.patterns),
  });
  const groupTests = groupPatterns.map(compileGroup);

  const matchesGroup = (event: EventView, group: (typeof groupTests)[number]): boolean => {
    const values = read(event);
    if (values === null) return group.matchesNull;
    return someValue(values, group.test);
  };

  // A keyword scans every field of the event; a field test costs one comparison per value.
  const unitCost = keyword ? 8 : 1;
  const cost = groupTests.reduce((sum, group) => sum + group.size, 0) * unitCost + 1;
  if (negate) {
    // `neq`: the field is present and differs from every listed value.
    return withCost((event) => {
      if (read(event) === null) return false;
      return !groupTests.some((group) => matchesGroup(event, group));
    }, cost);
  }
  if (groupTests.length === 1) {
    const group = groupTests[0]!;
    return withCost((event) => matchesGroup(event, group), cost);
  }
  if (all) {
    const ordered = [...groupTests].sort((left, right) => left.size - right.size);
    return withCost((event) => ordered.every((group) => matchesGroup(event, group)), cost);
  }
  // Without `all`, every value is an alternative: fold them into one pass over the field's values.
  const merged = compileGroup({
    matchesNull: groupPatterns.some((group) => group.matchesNull),
    patterns: groupPatterns.flatMap((group) => group.patterns),
  });
  return withCost((event) => matchesGroup(event, merged), cost);
}
