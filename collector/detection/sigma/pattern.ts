// Sigma string values: `*` and `?` wildcards, `\` escapes, and compilation to a fast string test.
import { unsupported } from './errors.js';

export const STAR = Symbol('*');
export const ONE = Symbol('?');
export type Token = string | typeof STAR | typeof ONE;
/** A Sigma string: literal runs and wildcards. */
export type Pattern = Token[];

/**
 * Parses escapes per the specification: `\` escapes `*`, `?` and `\` itself; a backslash before any other
 * character (or at the end) is a plain backslash, so `C:\Windows\*` keeps its path separators.
 */
export function parsePattern(text: string): Pattern {
  const tokens: Pattern = [];
  let literal = '';
  const flush = () => {
    if (literal !== '') tokens.push(literal);
    literal = '';
  };
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (char === '\\') {
      const next = text[index + 1];
      if (next === '*' || next === '?' || next === '\\') {
        literal += next;
        index++;
      } else literal += '\\';
    } else if (char === '*' || char === '?') {
      flush();
      tokens.push(char === '*' ? STAR : ONE);
    } else literal += char;
  }
  flush();
  return tokens;
}

export const literalPattern = (text: string): Pattern => (text === '' ? [] : [text]);

/** The pattern's plain text, or null when it holds wildcards (encodings cannot apply to those). */
export function plainText(pattern: Pattern): string | null {
  let text = '';
  for (const token of pattern) {
    if (typeof token !== 'string') return null;
    text += token;
  }
  return text;
}

export const withLeadingStar = (pattern: Pattern): Pattern =>
  pattern[0] === STAR ? pattern : [STAR, ...pattern];
export const withTrailingStar = (pattern: Pattern): Pattern =>
  pattern[pattern.length - 1] === STAR ? pattern : [...pattern, STAR];

const WINDASH_CHARS = ['-', '/', '\u2013', '\u2014', '\u2015'];
const WORD_CHAR = /[\p{L}\p{N}_]/u;
const MAX_WINDASH_POSITIONS = 4;

/**
 * `windash`: a `-` or `/` that starts a word (not preceded by a word character, followed by one) may be
 * written with any of the dash characters; returns every permutation, as pySigma does.
 */
export function windashVariants(pattern: Pattern): Pattern[] {
  let variants: Pattern[] = [[]];
  let positions = 0;
  for (const token of pattern) {
    if (typeof token !== 'string') {
      for (const variant of variants) variant.push(token);
      continue;
    }
    let tokenVariants = [''];
    for (let index = 0; index < token.length; index++) {
      const char = token[index]!;
      const before = token[index - 1];
      const after = token[index + 1];
      const startsFlag =
        (char === '-' || char === '/') &&
        (before === undefined || !WORD_CHAR.test(before)) &&
        after !== undefined &&
        WORD_CHAR.test(after);
      if (startsFlag) {
        positions++;
        tokenVariants = tokenVariants.flatMap((prefix) => WINDASH_CHARS.map((dash) => prefix + dash));
      } else tokenVariants = tokenVariants.map((prefix) => prefix + char);
    }
    variants = variants.flatMap((variant) => tokenVariants.map((text) => [...variant, text]));
  }
  if (positions > MAX_WINDASH_POSITIONS) {
    throw unsupported(`windash on a value with more than ${MAX_WINDASH_POSITIONS} flags`);
  }
  return variants.map(mergeLiterals);
}

function mergeLiterals(pattern: Pattern): Pattern {
  const merged: Pattern = [];
  for (const token of pattern) {
    const last = merged[merged.length - 1];
    if (typeof token === 'string' && typeof last === 'string') merged[merged.length - 1] = last + token;
    else if (token !== '') merged.push(token);
  }
  return merged;
}

export const lowerPattern = (pattern: Pattern): Pattern =>
  pattern.map((token) => (typeof token === 'string' ? token.toLowerCase() : token));

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

export type StringTest = (value: string) => boolean;

/** Compiles a pattern once into the cheapest test: equality, prefix, suffix, substring, or a regex. */
export function compilePattern(pattern: Pattern): StringTest {
  const tokens = mergeLiterals(pattern);
  const first = tokens[0];
  const last = tokens[tokens.length - 1];
  if (tokens.length === 0) return (value) => value === '';
  if (tokens.length === 1) {
    if (typeof first === 'string') return (value) => value === first;
    if (first === STAR) return () => true;
  }
  if (tokens.length === 2) {
    if (first === STAR && typeof last === 'string') return (value) => value.endsWith(last);
    if (typeof first === 'string' && last === STAR) return (value) => value.startsWith(first);
  }
  if (tokens.length === 3 && first === STAR && last === STAR && typeof tokens[1] === 'string') {
    const middle = tokens[1];
    return (value) => value.includes(middle);
  }
  const regex = new RegExp(patternSource(tokens), 's');
  return (value) => regex.test(value);
}

/** The pattern as an anchored regular expression source (wildcards at either end drop the anchor). */
function patternSource(pattern: Pattern): string {
  const tokens = mergeLiterals(pattern);
  let source = tokens[0] === STAR ? '' : '^';
  for (const [index, token] of tokens.entries()) {
    const atEdge = index === 0 || index === tokens.length - 1;
    if (token === STAR) source += atEdge ? '' : '.*';
    else if (token === ONE) source += '.';
    else source += escapeRegExp(token);
  }
  if (tokens[tokens.length - 1] !== STAR || tokens.length === 0) source += '$';
  return source;
}

/** Below this many alternatives, separate string tests beat one combined regex. */
const COMBINE_THRESHOLD = 4;

/**
 * Compiles alternatives into one test. Many of them (a rule's fifty `contains` values) become a single
 * regex alternation, which the regex engine scans in one pass, several times faster than a loop of
 * `includes` calls.
 */
export function compilePatterns(patterns: readonly Pattern[]): StringTest {
  if (patterns.length === 0) return () => false;
  if (patterns.length < COMBINE_THRESHOLD) {
    const tests = patterns.map(compilePattern);
    if (tests.length === 1) return tests[0]!;
    return (value) => {
      for (const test of tests) if (test(value)) return true;
      return false;
    };
  }
  const regex = new RegExp(patterns.map((pattern) => `(?:${patternSource(pattern)})`).join('|'), 's');
  return (value) => regex.test(value);
}
