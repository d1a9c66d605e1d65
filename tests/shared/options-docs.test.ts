// Every option both programs accept is documented in the README, under its flag and variable.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { agentOptions } from '../../agent/config.js';
import { collectorOptions } from '../../collector/config.js';
import { formatHelp } from '../../shared/options.js';
import { repoRoot } from '../helpers/processes.js';

const readme = readFileSync(`${repoRoot}/README.md`, 'utf8');

describe.each([
  ['collector', collectorOptions],
  ['agent', agentOptions],
])('%s options', (_name, table) => {
  it.each(Object.entries(table))('--%s is in the README and in --help', (flag, spec) => {
    expect(readme).toContain(`\`--${flag}`);
    expect(readme).toContain(`\`${spec.env}\``);
    expect(formatHelp('', table)).toContain(`--${flag}`);
  });
});
