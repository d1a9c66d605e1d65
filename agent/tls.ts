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
