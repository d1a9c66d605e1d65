// Rough evaluation cost of compiled predicates. AND and OR short-circuit, so evaluating cheap operands
// first (an `Image|endswith` before fifty `CommandLine|contains`) skips most of the work; predicates
// are pure, so the order never changes the result.

const costs = new WeakMap<object, number>();

export function withCost<F extends object>(predicate: F, cost: number): F {
  costs.set(predicate, cost);
  return predicate;
}

export const costOf = (predicate: object): number => costs.get(predicate) ?? 1;

export const totalCost = (predicates: readonly object[]): number =>
  predicates.reduce((sum, predicate) => sum + costOf(predicate), 0);

/** A copy sorted cheapest first (stable, so equal costs keep the rule's order). */
export const cheapestFirst = <F extends object>(predicates: readonly F[]): F[] =>
  [...predicates].sort((left, right) => costOf(left) - costOf(right));
