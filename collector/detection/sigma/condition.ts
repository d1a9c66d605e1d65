// The detection condition: `and`, `or`, `not`, parentheses, `1 of x*`, `all of them`.
// Precedence from loosest to tightest: or, and, not.
import { cheapestFirst, costOf, totalCost, withCost } from './cost.js';
import { invalid, unsupported } from './errors.js';

export type ConditionNode =
  | { kind: 'ref'; name: string }
  | { kind: 'not'; operand: ConditionNode }
  | { kind: 'and' | 'or'; operands: ConditionNode[] }
  /** `N of pattern` (`all` when count is 'all'); pattern 'them' means every non-`_` identifier. */
  | { kind: 'of'; count: number | 'all'; pattern: string };

const tokenize = (condition: string): string[] => condition.match(/\(|\)|\||[^\s()|]+/g) ?? [];

export function parseCondition(condition: string): ConditionNode {
  const tokens = tokenize(condition);
  if (tokens.length === 0) throw invalid('empty condition');
  if (tokens.includes('|')) throw unsupported(`aggregation in condition ${JSON.stringify(condition)}`);
  let position = 0;
  const peek = () => tokens[position]?.toLowerCase();
  const next = () => tokens[position++];

  const parseOr = (): ConditionNode => {
    const operands = [parseAnd()];
    while (peek() === 'or') {
      position++;
      operands.push(parseAnd());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'or', operands };
  };
  const parseAnd = (): ConditionNode => {
    const operands = [parseNot()];
    while (peek() === 'and') {
      position++;
      operands.push(parseNot());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'and', operands };
  };
  const parseNot = (): ConditionNode => {
    if (peek() === 'not') {
      position++;
      return { kind: 'not', operand: parseNot() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): ConditionNode => {
    const token = next();
    if (token === undefined) throw invalid(`condition ${JSON.stringify(condition)} ends too early`);
    const lower = token.toLowerCase();
    if (token === '(') {
      const inner = parseOr();
      if (next() !== ')') throw invalid(`missing ')' in condition ${JSON.stringify(condition)}`);
      return inner;
    }
    if (token === ')' || lower === 'and' || lower === 'or' || lower === 'of') {
      throw invalid(`unexpected '${token}' in condition ${JSON.stringify(condition)}`);
    }
    if (peek() === 'of') {
      position++;
      const pattern = next();
      if (pattern === undefined || pattern === '(' || pattern === ')') {
        throw invalid(`'${token} of' needs an identifier pattern or 'them'`);
      }
      if (lower === 'all') return { kind: 'of', count: 'all', pattern };
      if (lower === 'any') return { kind: 'of', count: 1, pattern };
      if (/^[1-9]\d*$/.test(token)) return { kind: 'of', count: Number(token), pattern };
      throw invalid(`'${token} of' is not a valid quantifier`);
    }
    if (token.includes('*')) throw invalid(`wildcard identifier '${token}' needs '1 of' or 'all of'`);
    return { kind: 'ref', name: token };
  };

  const tree = parseOr();
  if (position < tokens.length) {
    throw invalid(`unexpected '${tokens[position]}' in condition ${JSON.stringify(condition)}`);
  }
  return tree;
}

export type Evaluator<T> = (input: T) => boolean;

const wildcardToRegExp = (pattern: string): RegExp =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

/** Resolves identifiers against the detection and builds the closure; unknown identifiers are refused. */
export function compileCondition<T>(
  tree: ConditionNode,
  identifiers: ReadonlyMap<string, Evaluator<T>>,
): Evaluator<T> {
  const resolve = (name: string): Evaluator<T> => {
    const evaluator = identifiers.get(name);
    if (evaluator === undefined) throw invalid(`condition refers to unknown identifier '${name}'`);
    return evaluator;
  };
  const build = (node: ConditionNode): Evaluator<T> => {
    switch (node.kind) {
      case 'ref':
        return resolve(node.name);
      case 'not': {
        const operand = build(node.operand);
        return withCost((input: T) => !operand(input), costOf(operand));
      }
      case 'and': {
        const operands = cheapestFirst(node.operands.map(build));
        return withCost((input: T) => {
          for (const operand of operands) if (!operand(input)) return false;
          return true;
        }, totalCost(operands));
      }
      case 'or': {
        const operands = cheapestFirst(node.operands.map(build));
        return withCost((input: T) => {
          for (const operand of operands) if (operand(input)) return true;
          return false;
        }, totalCost(operands));
      }
      case 'of': {
        const names =
          node.pattern === 'them'
            ? [...identifiers.keys()].filter((name) => !name.startsWith('_'))
            : [...identifiers.keys()].filter((name) => wildcardToRegExp(node.pattern).test(name));
        if (names.length === 0) throw invalid(`'${node.pattern}' matches no detection identifier`);
        const operands = cheapestFirst(names.map(resolve));
        const count = node.count;
        const cost = totalCost(operands);
        if (count === 'all') return withCost((input: T) => operands.every((operand) => operand(input)), cost);
        if (count > operands.length) {
          throw invalid(`'${count} of ${node.pattern}' asks for more identifiers than exist`);
        }
        return withCost((input: T) => {
          let matched = 0;
          for (const operand of operands) if (operand(input) && ++matched >= count) return true;
          return false;
        }, cost);
      }
    }
  };
  return build(tree);
}
