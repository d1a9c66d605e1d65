// Host → category classification for the personal-web sensor.
//
// The shipped list (web-categories.json) names hosts, never paths, because the sensor never
// reads paths. Decisions worth knowing:
// - icloud.com is personal_cloud: iCloud Mail and iCloud Drive share www.icloud.com, so the
//   host cannot tell them apart.
// - proton.me is webmail, but drive.proton.me is personal_cloud (the longest suffix wins).
// - Business tools (slack.com, teams.microsoft.com, outlook.office.com) are not listed: contact
//   centers commonly use them for work. A policy that forbids them adds them via `extraDomains`.
// - Signal has no web client, so there is nothing to list for it.
import shipped from './web-categories.json' with { type: 'json' };

export interface ClassifyOptions {
  /** Categories the policy monitors; a host in any other category is not reported. */
  categories: readonly string[];
  /** Domains never reported (they and their subdomains), whatever their category. */
  allowedDomains: readonly string[];
  /** Extra host → category entries merged over the shipped list. */
  extraDomains?: Readonly<Record<string, string>>;
}

export class InvalidDomainListError extends Error {
  readonly code = 'INVALID_DOMAIN_LIST';
}

/** Lower-cases, drops a trailing dot and brackets; returns '' for something that is not a host. */
export function normalizeHost(host: string): string {
  let normalized = host.trim().toLowerCase();
  if (normalized.endsWith('.')) normalized = normalized.slice(0, -1);
  if (normalized.startsWith('[') && normalized.endsWith(']')) normalized = normalized.slice(1, -1);
  return normalized;
}

function buildShippedMap(): ReadonlyMap<string, string> {
  const map = new Map<string, string>();
  for (const [category, hosts] of Object.entries(shipped.categories)) {
    for (const host of hosts) {
      const key = normalizeHost(host);
      const previous = map.get(key);
      if (previous !== undefined && previous !== category) {
        throw new InvalidDomainListError(`${key} is listed as both ${previous} and ${category}`);
      }
      map.set(key, category);
    }
  }
  return map;
}

const shippedMap = buildShippedMap();

/** The shipped host → category entries (a copy, for display and tests). */
export function shippedWebCategories(): Map<string, string> {
  return new Map(shippedMap);
}

interface CompiledOptions {
  categories: ReadonlySet<string>;
  allowed: ReadonlySet<string>;
  extra: ReadonlyMap<string, string>;
}

// Policies are immutable objects replaced on change, so compiling once per object is enough.
const compiledCache = new WeakMap<ClassifyOptions, CompiledOptions>();

function compile(options: ClassifyOptions): CompiledOptions {
  const cached = compiledCache.get(options);
  if (cached) return cached;
  const compiled: CompiledOptions = {
    categories: new Set(options.categories),
    allowed: new Set(options.allowedDomains.map(normalizeHost).filter((domain) => domain !== '')),
    extra: new Map(
      Object.entries(options.extraDomains ?? {})
        .map(([host, category]) => [normalizeHost(host), category] as const)
        .filter(([host]) => host !== ''),
    ),
  };
  compiledCache.set(options, compiled);
  return compiled;
}

/** The host itself, then each parent domain: a.b.c → a.b.c, b.c, c (longest first). */
function* suffixes(host: string): Generator<string> {
  let rest = host;
  for (;;) {
    yield rest;
    const dot = rest.indexOf('.');
    if (dot < 0) return;
    rest = rest.slice(dot + 1);
  }
}

/**
 * The monitored category of a host, or null. A listed domain matches itself and its subdomains
 * (label-wise: evilgoogle.com does not match google.com); allowed domains always win; among
 * listed domains the longest matching one decides. Cost is one map lookup per label.
 */
export function classifyHost(host: string, options: ClassifyOptions): string | null {
  const normalized = normalizeHost(host);
  if (normalized === '') return null;
  const compiled = compile(options);
  let category: string | undefined;
  for (const suffix of suffixes(normalized)) {
    if (compiled.allowed.has(suffix)) return null;
    category ??= compiled.extra.get(suffix) ?? shippedMap.get(suffix);
  }
  return category !== undefined && compiled.categories.has(category) ? category : null;
}
