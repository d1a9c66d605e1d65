// Finds and compiles rule files. Built-in rules that fail are a bug and stop the start; a
// refused rule from the operator's folder is logged with its reason and left out whole.
// Two files of one folder with the same id are both refused: which one should run is the
// operator's call, not the file order's.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlaceholderValues } from './placeholders.js';
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
  /** The file each rule came from, by rule id. */
  files: Map<string, string>;
  refused: { file: string; code: string; reason: string; ruleId?: string }[];
}

export function loadRules(dir: string, options: { placeholders?: PlaceholderValues } = {}): LoadedRules {
  const compiled: { file: string; rule: SigmaRule }[] = [];
  const refused: LoadedRules['refused'] = [];
  for (const file of ruleFiles(dir)) {
    try {
      compiled.push({ file, rule: compileRule(readFileSync(file, 'utf8'), options) });
    } catch (err) {
      const e = err as { code?: string; message: string; ruleId?: string };
      refused.push({
        file,
        code: e.code ?? 'sigma_invalid',
        reason: e.message,
        ...(e.ruleId && { ruleId: e.ruleId }),
      });
    }
  }
  const filesById = new Map<string, string[]>();
  for (const { file, rule } of compiled) filesById.set(rule.id, [...(filesById.get(rule.id) ?? []), file]);
  const result: LoadedRules = { rules: [], files: new Map(), refused };
  for (const { file, rule } of compiled) {
    const sameId = filesById.get(rule.id)!;
    if (sameId.length > 1) {
      refused.push({
        file,
        ruleId: rule.id,
        code: 'sigma_duplicate_id',
        reason: `rule id ${rule.id} is used by ${sameId.length} files in ${dir}: ${sameId.join(', ')}`,
      });
      continue;
    }
    result.rules.push(rule);
    result.files.set(rule.id, file);
  }
  return result;
}
