// Sniffer and capture-driver signatures: loads the JSON data next to this file and matches
// processes and driver names against it. The agent uses the match to send sniffer process
// events as live priority; scripts/gen-sniffer-rules.ts turns the same data into Sigma rules.
import { readFileSync } from 'node:fs';
import { generatedValidator } from '../generated-validator.js';
import type {
  CaptureDriverSignature,
  CaptureDriversFile,
  CommandLinePattern,
  SignatureLevel,
  SnifferSignature,
  SniffersFile,
} from './schema.js';

export type {
  CaptureDriverSignature,
  CaptureDriversFile,
  CommandLinePattern,
  SignatureLevel,
  SnifferSignature,
  SniffersFile,
} from './schema.js';

export const signaturePlatforms = ['windows', 'linux', 'macos'] as const;
export type SignaturePlatform = (typeof signaturePlatforms)[number];

export class SignatureDataError extends Error {
  readonly code = 'signature_data_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'SignatureDataError';
  }
}

// Generated checks (scripts/gen-checks.ts): the agent loads this module, and never typebox's compiler.
const checkSniffers = generatedValidator<SniffersFile>('signatures:sniffers');
const checkDrivers = generatedValidator<CaptureDriversFile>('signatures:drivers');

function readJson(file: string): unknown {
  // Read through fs: JSON import attributes are not reliable on every Node 20 we support.
  const url = new URL(file, import.meta.url);
  try {
    return JSON.parse(readFileSync(url, 'utf8'));
  } catch (error) {
    throw new SignatureDataError(`cannot read ${url.pathname}: ${(error as Error).message}`);
  }
}

/** Validates the sniffer data, including that every regex compiles and ids are unique. */
export function parseSniffers(data: unknown): SniffersFile {
  const result = checkSniffers(data);
  if (!result.ok) throw new SignatureDataError(`sniffers.json: ${result.errors.join('; ')}`);
  const ids = new Set<string>();
  for (const entry of [...result.value.sniffers, ...result.value.commandLinePatterns]) {
    if (ids.has(entry.id)) throw new SignatureDataError(`sniffers.json: duplicate id ${entry.id}`);
    ids.add(entry.id);
  }
  for (const pattern of result.value.commandLinePatterns) {
    if (!pattern.contains && !pattern.containsAny && !pattern.regex) {
      throw new SignatureDataError(
        `sniffers.json: pattern ${pattern.id} has no contains, containsAny or regex`,
      );
    }
    if (pattern.regex) {
      try {
        new RegExp(pattern.regex);
      } catch (error) {
        throw new SignatureDataError(`sniffers.json: pattern ${pattern.id}: ${(error as Error).message}`);
      }
    }
  }
  return result.value;
}

export function parseCaptureDrivers(data: unknown): CaptureDriversFile {
  const result = checkDrivers(data);
  if (!result.ok) throw new SignatureDataError(`captureDrivers.json: ${result.errors.join('; ')}`);
  return result.value;
}

let sniffersCache: SniffersFile | undefined;
let driversCache: CaptureDriversFile | undefined;

export function loadSniffers(): SniffersFile {
  sniffersCache ??= parseSniffers(readJson('./sniffers.json'));
  return sniffersCache;
}

export function loadCaptureDrivers(): CaptureDriversFile {
  driversCache ??= parseCaptureDrivers(readJson('./captureDrivers.json'));
  return driversCache;
}

/** Every capture-driver service name, e.g. for the Windows PowerShell bridge. */
export function captureDriverServiceNames(): string[] {
  return loadCaptureDrivers().drivers.flatMap((d) => d.serviceNames);
}

export interface SnifferMatch {
  /** Signature id (a sniffer or a command-line pattern). */
  id: string;
  name: string;
  technique: string;
  level: SignatureLevel;
  reason: string;
}

export interface SnifferQuery {
  /** Short process name (comm / image name). */
  name: string;
  exe?: string;
  cmdline?: string;
  /** Windows version-resource name: still the tool's own name when the executable was renamed. */
  originalFileName?: string;
  /** `process.platform` values or the signature OS names. */
  platform: NodeJS.Platform | SignaturePlatform;
}

const levelRank: Record<SignatureLevel, number> = {
  informational: 0,
  low: 1,
  medium: 2,
  high: 3,
  critical: 4,
};

export function toSignaturePlatform(platform: NodeJS.Platform | SignaturePlatform): SignaturePlatform | null {
  if (platform === 'win32' || platform === 'windows') return 'windows';
  if (platform === 'darwin' || platform === 'macos') return 'macos';
  if (platform === 'linux') return 'linux';
  return null;
}

/** Lower-cased basename; on Windows both separators count and a trailing `.exe` is dropped. */
function normalizeImage(value: string, platform: SignaturePlatform | null): string {
  const base = (platform === 'windows' ? value.split(/[\\/]/) : value.split('/')).pop() ?? '';
  const lower = base.toLowerCase();
  return platform === 'windows' && lower.endsWith('.exe') ? lower.slice(0, -4) : lower;
}

function namesFor(
  names: SnifferSignature['names'],
  platform: SignaturePlatform | null,
): Array<[SignaturePlatform, string]> {
  const platforms = platform ? [platform] : signaturePlatforms;
  return platforms.flatMap((p) => (names[p] ?? []).map((n): [SignaturePlatform, string] => [p, n]));
}

function imageMatches(
  names: SnifferSignature['names'],
  candidates: string[],
  platform: SignaturePlatform | null,
): string | undefined {
  for (const [namePlatform, name] of namesFor(names, platform)) {
    const wanted = normalizeImage(name, platform ?? namePlatform);
    if (candidates.includes(wanted)) return name;
  }
  return undefined;
}

function patternMatches(pattern: CommandLinePattern, cmdline: string): boolean {
  const lower = cmdline.toLowerCase();
  if (pattern.contains && !pattern.contains.every((s) => lower.includes(s.toLowerCase()))) return false;
  if (pattern.containsAny && !pattern.containsAny.some((s) => lower.includes(s.toLowerCase()))) return false;
  if (pattern.regex && !new RegExp(pattern.regex).test(cmdline)) return false;
  return true;
}

/**
 * The strongest signature a process matches, by executable basename or command line; null when none.
 * A command-line pattern can outrank a name match (`pktmon start` is higher than pktmon itself) and
 * wins a tie, since it says more.
 */
export function matchSniffer(query: SnifferQuery, data: SniffersFile = loadSniffers()): SnifferMatch | null {
  const platform = toSignaturePlatform(query.platform);
  const candidates = [query.name, query.exe ?? '', query.originalFileName ?? '']
    .filter((v) => v.length > 0)
    .map((v) => normalizeImage(v, platform));
  const matches: SnifferMatch[] = [];
  for (const sniffer of data.sniffers) {
    const hit = imageMatches(sniffer.names, candidates, platform);
    if (hit) {
      const { id, name, technique, level } = sniffer;
      matches.push({ id, name, technique, level, reason: `executable ${JSON.stringify(hit)} is ${name}` });
    }
  }
  const cmdline = query.cmdline ?? '';
  for (const pattern of data.commandLinePatterns) {
    if (platform && !pattern.platforms.includes(platform)) continue;
    if (pattern.images && !imageMatches(pattern.images, candidates, platform)) continue;
    if (cmdline.length === 0 || !patternMatches(pattern, cmdline)) continue;
    const { id, name, technique, level } = pattern;
    matches.push({ id, name, technique, level, reason: `command line matches ${name}` });
  }
  // Ties go to the later match: a command-line pattern says more than the executable name.
  let best: SnifferMatch | null = null;
  for (const match of matches) {
    if (!best || levelRank[match.level] >= levelRank[best.level]) best = match;
  }
  return best;
}

/** The capture driver a Windows service/driver name belongs to (`npcap`, `npcap.sys`, a full path). */
export function matchCaptureDriver(
  name: string,
  data: CaptureDriversFile = loadCaptureDrivers(),
): CaptureDriverSignature | null {
  const base = (name.split(/[\\/]/).pop() ?? '').toLowerCase().replace(/\.sys$/, '');
  if (base.length === 0) return null;
  return data.drivers.find((d) => d.serviceNames.some((s) => s.toLowerCase() === base)) ?? null;
}
