// Finds and compiles rule files. Built-in rules that fail are a bug and stop the start; a
// refused rule from the operator's folder is logged with its reason and left out whole.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileRule, type SigmaRule } from './sigma/index.js';

export const builtinRulesDir = fileURLToPath(new URL('./rules/', import.meta.url));

export function ruleFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return ruleFiles(path);
      return /\.ya?ml$/i.test(name) ? [path] : [];
    });
}

export interface LoadedRules {
  rules: SigmaRule[];
  refused: { file: string; code: string; reason: string }[];
}

export function loadRules(
  dir: string,
  options: { placeholders?: Record<string, string[]> } = {},
): LoadedRules {
  const result: LoadedRules = { rules: [], refused: [] };
  for (const file of ruleFiles(dir)) {
    try {
      result.rules.push(compileRule(readFileSync(file, 'utf8'), options));
    } catch (err) {
      const e = err as { code?: string; message: string };
      result.refused.push({ file, code: e.code ?? 'sigma_invalid', reason: e.message });
    }
  }
  return result;
}
