// Both programs are configured the same way: every option is a flag and an environment variable,
// declared once in a table that also produces `--help` (and the README's configuration table).
import { parseArgs } from 'node:util';

export interface OptionSpec {
  env: string;
  description: string;
  type?: 'string' | 'boolean';
  default?: string;
}

export type OptionTable = Record<string, OptionSpec>;
export type OptionValues<T extends OptionTable> = { [K in keyof T]: string | undefined };

export class UsageError extends Error {
  readonly code = 'usage';
}

/** Flags win over environment variables, which win over defaults. */
export function readOptions<T extends OptionTable>(
  table: T,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): { values: OptionValues<T>; positionals: string[]; help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const [flag, spec] of Object.entries(table)) options[flag] = { type: spec.type ?? 'string' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = {} as Record<string, string | undefined>;
  for (const [flag, spec] of Object.entries(table)) {
    const given = parsed.values[flag];
    values[flag] = given === undefined ? (env[spec.env] ?? spec.default) : String(given);
  }
  return {
    values: values as OptionValues<T>,
    positionals: parsed.positionals,
    help: Boolean(parsed.values.help),
  };
}

export function formatHelp(usage: string, table: OptionTable): string {
  const rows = Object.entries(table).map(([flag, spec]) => {
    const left = `  --${flag}${spec.type === 'boolean' ? '' : ' <value>'}`;
    const def = spec.default !== undefined ? ` (default: ${spec.default})` : '';
    return `${left.padEnd(30)} ${spec.description}${def}\n${''.padEnd(31)}env: ${spec.env}`;
  });
  return `${usage}\n\nOptions:\n${rows.join('\n')}\n  --help                       show this help\n`;
}

export const isTrue = (value: string | undefined): boolean =>
  value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
