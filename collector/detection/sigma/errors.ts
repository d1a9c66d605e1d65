// A rule that cannot be applied exactly as written is refused as a whole, never half-applied.

export type SigmaErrorCode = 'sigma_invalid' | 'sigma_unsupported';

export abstract class SigmaRuleError extends Error {
  abstract readonly code: SigmaErrorCode;
  readonly ruleId: string | undefined;
  readonly reason: string;

  constructor(ruleId: string | undefined, reason: string) {
    super(`${ruleId ?? '(rule without id)'}: ${reason}`);
    this.ruleId = ruleId;
    this.reason = reason;
  }
}

/** The rule breaks the Sigma specification (bad YAML, missing condition, unknown identifier...). */
export class SigmaInvalidRuleError extends SigmaRuleError {
  readonly code = 'sigma_invalid' as const;
  override readonly name = 'SigmaInvalidRuleError';
}

/** The rule is valid Sigma but uses a feature this engine does not evaluate (aggregation, correlation...). */
export class SigmaUnsupportedRuleError extends SigmaRuleError {
  readonly code = 'sigma_unsupported' as const;
  override readonly name = 'SigmaUnsupportedRuleError';
}

/** Raised deep inside compilation, before the rule id is attached by `compileRule`. */
export class RuleProblem extends Error {
  constructor(
    readonly kind: SigmaErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const invalid = (reason: string): RuleProblem => new RuleProblem('sigma_invalid', reason);
export const unsupported = (reason: string): RuleProblem => new RuleProblem('sigma_unsupported', reason);
