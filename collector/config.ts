// The collector's configuration: flags and environment variables, validated once at start.
import { resolve } from 'node:path';
import { isTrue, type OptionTable, type OptionValues } from '../shared/options.js';
import { ConfigError } from './errors.js';

export const collectorOptions = {
  port: { env: 'PORT', default: '8080', description: 'TCP port to listen on' },
  host: { env: 'HOST', default: '127.0.0.1', description: 'address to listen on (0.0.0.0 for all)' },
  'database-url': {
    env: 'DATABASE_URL',
    description: 'PostgreSQL connection string; unset = embedded PGlite in <data-dir>/db',
  },
  'data-dir': {
    env: 'VIGIL_DATA_DIR',
    default: './data',
    description: 'embedded database, lock and generated secrets',
  },
  'enroll-secret': {
    env: 'VIGIL_ENROLL_SECRET',
    description: 'enroll secret of the "default" agent group (generated into <data-dir> when unset)',
  },
  'admin-token': {
    env: 'VIGIL_ADMIN_TOKEN',
    description:
      'bootstrap admin API token (generated into <data-dir>/admin-token and printed once when unset)',
  },
  'admin-password': {
    env: 'VIGIL_ADMIN_PASSWORD',
    description:
      'console password of the bootstrap admin (generated into <data-dir>/admin-password when unset)',
  },
  'event-retention-days': {
    env: 'VIGIL_EVENT_RETENTION_DAYS',
    default: '30',
    description:
      'events older than this are dropped a whole day-partition at a time (alerts, incidents, audit kept)',
  },
  'metrics-public': {
    env: 'VIGIL_METRICS_PUBLIC',
    type: 'boolean',
    description: 'serve /metrics without credentials (default: admin token, or --metrics-token)',
  },
  'metrics-token': {
    env: 'VIGIL_METRICS_TOKEN',
    description: 'a dedicated bearer token for the Prometheus scraper',
  },
  'tls-cert': { env: 'VIGIL_TLS_CERT', description: 'PEM certificate file: serve HTTPS/WSS' },
  'tls-key': { env: 'VIGIL_TLS_KEY', description: 'PEM private key file for --tls-cert' },
  'rules-dir': {
    env: 'VIGIL_RULES_DIR',
    description:
      'extra Sigma rules (.yml) loaded beside the built-in ones; one with a built-in id replaces it',
  },
  'sigma-placeholders': {
    env: 'VIGIL_SIGMA_PLACEHOLDERS',
    description:
      'YAML map of Sigma placeholder name → list of values, for rules using the expand modifier (%name%)',
  },
  'alert-dedup-window': {
    env: 'VIGIL_ALERT_DEDUP_WINDOW_SEC',
    default: '3600',
    description:
      'seconds during which matches of one rule + agent + entity bump one alert instead of opening another',
  },
  'agent-silent-after-sec': {
    env: 'VIGIL_AGENT_SILENT_AFTER_SEC',
    default: '45',
    description: 'an agent quiet this long (no heartbeat, no batch) is marked silent and raises an alert',
  },
  'agent-reconnect-grace-sec': {
    env: 'VIGIL_AGENT_RECONNECT_GRACE_SEC',
    default: '75',
    description:
      'after the collector starts or its database comes back, agents get this long to reconnect before their silence counts (agents back off up to 60 s)',
  },
  'log-level': {
    env: 'VIGIL_LOG_LEVEL',
    default: 'info',
    description: 'pino log level (trace … fatal, silent)',
  },
  'allow-private-targets': {
    env: 'VIGIL_ALLOW_PRIVATE_TARGETS',
    default: 'false',
    description: 'let notification channels reach loopback/private addresses (on-prem receivers, tests)',
  },
  'public-url': {
    env: 'VIGIL_PUBLIC_URL',
    description:
      'base URL of the console links in notifications (default http(s)://<host>:<port> as served; 0.0.0.0/:: → this machine hostname)',
  },
  'ingest-concurrency': {
    env: 'VIGIL_INGEST_CONCURRENCY',
    default: '4',
    description:
      'transactions storing agent batches at once on PostgreSQL; batches arriving meanwhile are committed together',
  },
  'notify-timeout-ms': {
    env: 'VIGIL_NOTIFY_TIMEOUT_MS',
    default: '10000',
    description: 'timeout of one notification delivery',
  },
  'notify-retry-delays': {
    env: 'VIGIL_NOTIFY_RETRY_DELAYS',
    description:
      'comma-separated ms before each attempt, first 0 (default Standard Webhooks: 0,5s,5m,30m,2h,5h,10h,10h)',
  },
  'escalation-rules': {
    env: 'VIGIL_ESCALATION_RULES',
    description: 'escalation rules file (.json) replacing the built-in one',
  },
  'trust-proxy': {
    env: 'VIGIL_TRUST_PROXY',
    description:
      'behind a reverse proxy: true, a hop count, or comma-separated proxy addresses/CIDRs whose X-Forwarded-For/-Proto are believed (client IP, https cookies)',
  },
} satisfies OptionTable;

export interface CollectorConfig {
  port: number;
  host: string;
  databaseUrl?: string;
  dataDir: string;
  enrollSecret?: string;
  adminToken?: string;
  adminPassword?: string;
  eventRetentionDays?: number;
  metricsPublic?: boolean;
  metricsToken?: string;
  tls?: { certFile: string; keyFile: string };
  rulesDir?: string;
  /** File of values for `%name%` placeholders (Sigma `expand` modifier). */
  sigmaPlaceholdersFile?: string;
  logLevel: string;
  agentSilentAfterMs: number;
  /** Silence is not counted until the collector has been up (and its database reachable) this long. */
  agentReconnectGraceMs: number;
  presenceCheckIntervalMs: number;
  /** Batches stored concurrently before acks grant less credit / agents are asked to pause. */
  ingestSoftLimit: number;
  ingestHardLimit: number;
  /** Concurrent ingest transactions on PostgreSQL (default 4; PGlite always uses 1). */
  ingestConcurrency?: number;
  /** Extra settings tests set directly. */
  alertDedupWindowMs: number;
  /** Channels may reach loopback/private addresses (default false: SSRF guard on). */
  allowPrivateTargets?: boolean;
  publicUrl?: string;
  notifyTimeoutMs?: number;
  /** Overrides the Standard Webhooks retry schedule (ms before each attempt, first 0). */
  notifyRetryDelaysMs?: number[];
  notifyPollMs?: number;
  escalationPollMs?: number;
  overduePollMs?: number;
  escalationRulesFile?: string;
  /** Fastify's trustProxy: which X-Forwarded-* headers set request.ip and request.protocol. */
  trustProxy?: boolean | number | string;
}

/** `true`, a hop count, or proxy addresses/CIDRs (comma-separated); unset, empty or false = off. */
export function parseTrustProxy(text: string | undefined): boolean | number | string | undefined {
  const value = text?.trim();
  if (!value || value === 'false') return undefined;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  const addresses = value.split(',').map((part) => part.trim());
  if (addresses.some((a) => !/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a)))
    throw new ConfigError(`invalid --trust-proxy ${text}: expected true, a hop count or addresses/CIDRs`);
  return addresses.join(',');
}

function parseDelays(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const delays = text.split(',').map((part) => Number(part.trim()));
  if (delays.length === 0 || delays.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ConfigError(`invalid notify retry delays ${text}: expected comma-separated non-negative ms`);
  }
  return delays;
}

function positiveInt(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`invalid ${name} ${text}`);
  return value;
}

function positiveSeconds(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new ConfigError(`--${name} must be a positive number of seconds, got ${value}`);
  return n;
}

function nonNegativeSeconds(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < 0)
    throw new ConfigError(`--${name} must be zero or a positive number of seconds, got ${value}`);
  return n;
}

export function collectorConfigFrom(values: OptionValues<typeof collectorOptions>): CollectorConfig {
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`invalid port ${values.port}`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    throw new ConfigError('--tls-cert and --tls-key go together');
  }
  return {
    port,
    host: values.host ?? '127.0.0.1',
    databaseUrl: values['database-url'] || undefined,
    dataDir: resolve(values['data-dir'] ?? './data'),
    enrollSecret: values['enroll-secret'] || undefined,
    adminToken: values['admin-token'] || undefined,
    adminPassword: values['admin-password'] || undefined,
    eventRetentionDays: positiveInt('event-retention-days', values['event-retention-days'] ?? '30'),
    metricsPublic: isTrue(values['metrics-public']),
    metricsToken: values['metrics-token'] || undefined,
    tls: values['tls-cert'] ? { certFile: values['tls-cert'], keyFile: values['tls-key']! } : undefined,
    rulesDir: values['rules-dir'] || undefined,
    sigmaPlaceholdersFile: values['sigma-placeholders'] || undefined,
    logLevel: values['log-level'] ?? 'info',
    alertDedupWindowMs: positiveSeconds('alert-dedup-window', values['alert-dedup-window'] ?? '3600') * 1000,
    agentSilentAfterMs: positiveSeconds('agent-silent-after-sec', values['agent-silent-after-sec']) * 1000,
    agentReconnectGraceMs:
      nonNegativeSeconds('agent-reconnect-grace-sec', values['agent-reconnect-grace-sec']) * 1000,
    presenceCheckIntervalMs: 5000,
    ingestSoftLimit: 8,
    ingestHardLimit: 32,
    ingestConcurrency: positiveInt('ingest-concurrency', values['ingest-concurrency'] ?? '4'),
    allowPrivateTargets: isTrue(values['allow-private-targets']),
    publicUrl: values['public-url'] || undefined,
    notifyTimeoutMs: positiveInt('notify-timeout-ms', values['notify-timeout-ms'] ?? '10000'),
    notifyRetryDelaysMs: parseDelays(values['notify-retry-delays']),
    escalationRulesFile: values['escalation-rules'] || undefined,
    trustProxy: parseTrustProxy(values['trust-proxy']),
  };
}
