// Links to the console that notifications carry. The default base is where this collector can be
// reached: the scheme it serves (https with --tls-cert), the port it really listens on (port 0 picks
// one), and a host name a receiver can use (a wildcard listen address is not one).
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';

export interface PublicUrlConfig {
  publicUrl?: string;
  host: string;
  port: number;
  tls?: unknown;
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '']);

/** The console base URL: --public-url, else scheme://host:port of this collector. */
export function publicBaseUrl(
  config: PublicUrlConfig,
  listening?: AddressInfo | string | null,
  machineName: () => string = hostname,
): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '').replace(/\/console$/, '');
  const scheme = config.tls ? 'https' : 'http';
  const port = typeof listening === 'object' && listening ? listening.port : config.port;
  let host = WILDCARD_HOSTS.has(config.host) ? machineName() || '127.0.0.1' : config.host;
  if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
  return `${scheme}://${host}:${port}`;
}

/** The console page of one incident. */
export function incidentConsoleUrl(baseUrl: string, incidentId: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/console/incidents/${encodeURIComponent(incidentId)}`;
}
