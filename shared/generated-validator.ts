// A validator from the checks generated at build time (shared/generated/checks.ts): the check
// runs without typebox; only a failure loads typebox's compiler (synchronously, require of ESM)
// to say what is wrong, from the schema stored next to the check. For code that must stay small:
// the agent imports no schema module at all.
import { createRequire } from 'node:module';
import { checks, schemas } from './generated/checks.js';
import { registerTimestampFormat } from './timestamp.js';
import type { Validation } from './validate.js';

const require = createRequire(import.meta.url);

/** What is wrong with `value` for the generated check `name`. */
function explain(name: string, value: unknown): string[] {
  registerTimestampFormat((require('typebox/format') as typeof import('typebox/format')).default);
  const { Compile } = require('typebox/compile') as typeof import('typebox/compile');
  return Compile(schemas[name] as never)
    .Errors(value)
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'}: ${e.message}`);
}

/** The names of the generated checks starting with `prefix`, without it (`event:` → event types). */
export function generatedNames(prefix: string): string[] {
  return Object.keys(checks)
    .filter((name) => name.startsWith(prefix))
    .map((name) => name.slice(prefix.length));
}

/** The generated check `name` (see scripts/gen-checks.ts). */
export function generatedValidator<T>(name: string): (value: unknown) => Validation<T> {
  return (value) => {
    // Looked up on use: the generator itself imports modules that declare these validators.
    const check = checks[name];
    if (!check) throw new Error(`no generated check ${name}: run scripts/gen-checks.ts`);
    return check(value)
      ? { ok: true, value: value as T }
      : { ok: false, code: 'bad_message', errors: explain(name, value) };
  };
}
