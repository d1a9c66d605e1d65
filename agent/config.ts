// The agent's configuration: flags and environment variables, validated once at start.
import { homedir, platform } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { isTrue, type OptionTable, type OptionValues, readOptions, UsageError } from '../shared/options.js';

function defaultStateDir(): string {
  if (platform() === 'win32') return join(process.env.ProgramData ?? 'C:\\ProgramData', 'Vigil', 'agent');
  if (platform() === 'darwin') return '/Library/Application Support/Vigil/agent';
  return process.getuid?.() === 0 ? '/var/lib/vigil-agent' : join(homedir(), '.vigil-agent');
}

export const agentOptions = {
  collector: {
    env: 'VIGIL_COLLECTOR_URL',
    default: 'http://127.0.0.1:8080',
    description: 'collector base URL (http[s]://host:port)',
  },
  'enroll-secret': {
    env: 'VIGIL_ENROLL_SECRET',
    description: 'group enroll secret, used once when the agent has no identity yet',
  },
  'state-dir': {
    env: 'VIGIL_STATE_DIR',
    default: defaultStateDir(),
    description: 'identity, spool, policy and sensor cursors',
  },
  ca: { env: 'VIGIL_CA_FILE', description: 'PEM CA bundle to verify the collector (pinning a private CA)' },
  insecure: {
    env: 'VIGIL_INSECURE',
    type: 'boolean',
    description: 'accept a collector certificate that cannot be verified (testing only; logged loudly)',
  },
  'log-level': { env: 'VIGIL_LOG_LEVEL', default: 'info', description: 'pino log level' },
  'log-dir': {
    env: 'VIGIL_LOG_DIR',
    description:
      'write rotated JSON logs here (service mode; then stdout only when it is a terminal); default: stdout only',
  },
  'spool-max-mb': {
    env: 'VIGIL_SPOOL_MAX_MB',
    default: '512',
    description:
      'spool size cap (bytes of stored events; the file runs about 15 % larger, plus a write-ahead log of at most 64 MiB); past it the oldest events are dropped and counted',
  },
  'spool-max-age-days': {
    env: 'VIGIL_SPOOL_MAX_AGE_DAYS',
    default: '14',
    description: 'spool age cap in days',
  },
  'max-rss-mb': {
    env: 'VIGIL_MAX_RSS_MB',
    default: '200',
    description: 'watchdog: restart when resident memory stays above this',
  },
  'max-cpu-percent': {
    env: 'VIGIL_MAX_CPU_PERCENT',
    default: '25',
    description: 'watchdog: restart when CPU stays above this share of one core',
  },
  'capture-dirs': {
    env: 'VIGIL_CAPTURE_DIRS',
    description:
      'extra folders to watch for capture files, besides defaults and policy (: separated; ; on Windows)',
  },
  'dry-run': {
    env: 'VIGIL_SERVICE_DRY_RUN',
    type: 'boolean',
    description: 'service install|uninstall: write the service file but run no service-manager command',
  },
} satisfies OptionTable;

export type AgentOptionName = keyof typeof agentOptions;

/** The options set by a flag or an environment variable rather than left at their default. */
export function optionsGiven(argv: string[], env: NodeJS.ProcessEnv = process.env): Set<AgentOptionName> {
  const withoutDefaults = Object.fromEntries(
    Object.entries(agentOptions).map(([name, spec]) => [name, { ...spec, default: undefined }]),
  ) as OptionTable;
  const { values } = readOptions(withoutDefaults, argv, env);
  return new Set(Object.keys(values).filter((name) => values[name] !== undefined) as AgentOptionName[]);
}

export interface AgentConfig {
  collectorUrl: string;
  /**
   * --collector / VIGIL_COLLECTOR_URL was given: it wins over the URL saved at enrollment (a
   * collector that moved keeps its agents). Left at the default, the saved URL is used.
   */
  collectorUrlGiven: boolean;
  enrollSecret?: string;
  stateDir: string;
  caFile?: string;
  insecure: boolean;
  logLevel: string;
  logDir?: string;
  spoolMaxBytes: number;
  spoolMaxAgeMs: number;
  maxRssBytes: number;
  maxCpuPercent: number;
  /** Watched for capture files in addition to the OS defaults and policy.captureFileFolders. */
  captureDirs: string[];
  dryRun: boolean;
}

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive number, got ${value}`);
  return n;
}

export function agentConfigFrom(
  values: OptionValues<typeof agentOptions>,
  given: ReadonlySet<AgentOptionName> = new Set(),
): AgentConfig {
  const collectorUrl = (values.collector ?? '').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(collectorUrl))
    throw new UsageError(`--collector must be an http(s) URL, got ${values.collector}`);
  return {
    collectorUrl,
    collectorUrlGiven: given.has('collector'),
    enrollSecret: values['enroll-secret'] || undefined,
    stateDir: resolve(values['state-dir'] ?? defaultStateDir()),
    caFile: values.ca || undefined,
    insecure: isTrue(values.insecure),
    logLevel: values['log-level'] ?? 'info',
    logDir: values['log-dir'] ? resolve(values['log-dir']) : undefined,
    spoolMaxBytes: positive('spool-max-mb', values['spool-max-mb']) * 1024 * 1024,
    spoolMaxAgeMs: positive('spool-max-age-days', values['spool-max-age-days']) * 86_400_000,
    maxRssBytes: positive('max-rss-mb', values['max-rss-mb']) * 1024 * 1024,
    maxCpuPercent: positive('max-cpu-percent', values['max-cpu-percent']),
    captureDirs: (values['capture-dirs'] ?? '')
      .split(delimiter)
      .map((dir) => dir.trim())
      .filter(Boolean),
    dryRun: isTrue(values['dry-run']),
  };
}
