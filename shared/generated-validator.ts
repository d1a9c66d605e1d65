// A validator from the checks generated at build time (shared/generated/checks.ts): the boolean
// check runs without typebox's compiler; only a failure loads the compiler (synchronously, require
// of ESM) to say what is wrong. For code that must stay small — the agent.
import { createRequire } from 'node:module';
import type { TSchema } from 'typebox';
import { checks } from './generated/checks.js';
import './timestamp.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: string[] };

const require = createRequire(import.meta.url);

/** What is wrong with `value`, from typebox's compiler (loaded on the first failure only). */
export function explain(schema: TSchema, value: unknown): string[] {
  const { Compile } = require('typebox/compile') as typeof import('typebox/compile');
  return Compile(schema)
    .Errors(value)
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'}: ${e.message}`);
}

/** The generated check `name` (see scripts/gen-checks.ts), which must have been made from `schema`. */
export function generatedValidator<T>(name: string, schema: TSchema): (value: unknown) => Checked<T> {
  return (value) => {
    // Looked up on use: the generator itself imports the modules that declare these validators.
    const check = checks[name];
    if (!check) throw new Error(`no generated check ${name}: run scripts/gen-checks.ts`);
    return check(value) ? { ok: true, value: value as T } : { ok: false, errors: explain(schema, value) };
  };
}
