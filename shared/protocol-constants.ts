// The values of the wire contract, apart from its typebox schemas (shared/protocol.ts re-exports
// them): the agent imports these without loading typebox.
import type { Policy } from './protocol.js';

/** Major.minor. The collector refuses a different major; a newer minor only adds optional fields. */
export const PROTOCOL_VERSION = '1.0';
export const protocolMajor = (version: string): number => Number.parseInt(version.split('.')[0] ?? '', 10);

/** Limits both sides agree on; the collector enforces them. */
export const limits = {
  /** WebSocket frame cap (ws defaults to 100 MiB). */
  maxFrameBytes: 1024 * 1024,
  maxEventsPerBatch: 500,
} as const;

export const webCategories = ['webmail', 'social', 'personal_cloud', 'messaging', 'remote_access'] as const;

export const defaultPolicy: Policy = {
  revision: 0,
  scanIntervalMs: 1000,
  heartbeatIntervalMs: 15_000,
  sensors: { process: true, capture: true, captureFiles: true, web: true },
  web: { categories: [...webCategories], allowedDomains: [] },
  privacyLevel: 'standard',
  captureFileFolders: [],
};

/** WebSocket close codes (4000–4999 are application-defined). */
export const closeCodes = {
  protocolVersion: 4001,
  notHello: 4002,
  badMessage: 4003,
  revoked: 4004,
  replaced: 4005,
  shuttingDown: 1001,
  frameTooLarge: 1009,
} as const;
