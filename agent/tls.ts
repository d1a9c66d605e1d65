// TLS settings shared by enrollment (HTTPS) and the stream (WSS): an optional pinned CA, and
// `insecure` only when the operator asked for it.
import { readFileSync } from 'node:fs';
import type { AgentConfig } from './config.js';

export interface TlsOptions {
  ca?: Buffer;
  rejectUnauthorized: boolean;
}

export const tlsOptions = (config: Pick<AgentConfig, 'caFile' | 'insecure'>): TlsOptions => ({
  ...(config.caFile && { ca: readFileSync(config.caFile) }),
  rejectUnauthorized: !config.insecure,
});

export const INSECURE_WARNING =
  'TLS verification is OFF (--insecure): anyone on the path can impersonate the collector and ' +
  'receive this agent token and its events; use --ca with the collector CA instead';

/**
 * Says loudly that --insecure is on: on stderr whatever the log destination (a service's log file
 * alone would hide it from whoever ran the command), and in the log at warn level.
 */
export function warnIfInsecure(
  config: Pick<AgentConfig, 'insecure'>,
  log?: { warn(message: string): void },
): void {
  if (!config.insecure) return;
  process.stderr.write(`vigil-agent: WARNING: ${INSECURE_WARNING}\n`);
  log?.warn(INSECURE_WARNING);
}
