export type { SigmaErrorCode } from './errors.js';
export { SigmaInvalidRuleError, SigmaRuleError, SigmaUnsupportedRuleError } from './errors.js';
export {
  CompiledSigmaRule,
  type CompileOptions,
  compileRule,
  LEVELS,
  type SigmaLevel,
  type SigmaLogsource,
  type SigmaRule,
} from './rule.js';
export { RuleSet, type SigmaEvent } from './ruleset.js';
