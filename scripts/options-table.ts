// Prints the README's configuration tables from the option tables the programs themselves use,
// so the documentation cannot drift from `--help`. Usage: node dist/scripts/options-table.js
import { agentOptions } from '../agent/config.js';
import { collectorOptions } from '../collector/config.js';
import type { OptionTable } from '../shared/options.js';

export function optionsTable(table: OptionTable): string {
  const rows = Object.entries(table).map(([flag, spec]) => {
    const value = spec.type === 'boolean' ? '' : ' <value>';
    return `| \`--${flag}${value}\` | \`${spec.env}\` | ${spec.default ?? '—'} | ${spec.description.replaceAll('|', '\\|')} |`;
  });
  return ['| flag | environment | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`### vigil-collector start\n\n${optionsTable(collectorOptions)}\n\n`);
  process.stdout.write(`### vigil-agent run\n\n${optionsTable(agentOptions)}\n`);
}
