#!/usr/bin/env node
// vigil-collector: `start` runs the service; `rules test|lint` help analysts try Sigma rules.
import { formatHelp, readOptions, UsageError } from '../shared/options.js';
import { buildApp } from './app.js';
import { collectorConfigFrom, collectorOptions } from './config.js';
import { VigilError } from './errors.js';

const usage = `Usage:
  vigil-collector start [options]           run the collector
  vigil-collector rules test RULE.yml EVENTS.jsonl
                                            print the events a rule matches, and their count
  vigil-collector rules lint DIR            compile every rule under DIR and report refusals
                                            (both take --sigma-placeholders FILE)`;

async function start(argv: string[]): Promise<void> {
  const { values, help } = readOptions(collectorOptions, argv);
  if (help) {
    process.stdout.write(formatHelp(usage, collectorOptions));
    return;
  }
  const config = collectorConfigFrom(values);
  const app = await buildApp(config);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'stopping');
    await app.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await app.listen({ port: config.port, host: config.host });
}

async function rules(argv: string[]): Promise<number> {
  const { rulesCommand } = await import('./detection/rules-cli.js');
  const result = await rulesCommand(argv);
  process.stdout.write(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
  return result.exitCode;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      await start(rest);
      return 0;
    case 'rules':
      return rules(rest);
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(formatHelp(usage, collectorOptions));
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`vigil-collector: ${err.message}\n\n${usage}\n`);
      process.exitCode = 2;
    } else if (err instanceof VigilError) {
      process.stderr.write(`vigil-collector: [${err.code}] ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`vigil-collector: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
