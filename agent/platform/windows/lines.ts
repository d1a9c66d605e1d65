// The JSON-lines protocol of vigil-agent.ps1: splitting a byte stream into lines, parsing each
// line, and the date formats Windows tooling produces. Pure functions, tested on recorded output.
import type { CaptureDriverInfo, CaptureSnapshot, ProcessInfo } from '../types.js';

/** Splits chunks into complete lines; a partial line waits for the rest. Handles CRLF. */
export class LineSplitter {
  private pending = '';

  push(chunk: string): string[] {
    const text = this.pending + chunk;
    const parts = text.split('\n');
    this.pending = parts.pop() ?? '';
    return parts.map((p) => (p.endsWith('\r') ? p.slice(0, -1) : p)).filter((p) => p.trim().length > 0);
  }

  /** The unterminated remainder, when the stream ended. */
  flush(): string[] {
    const rest = this.pending.trim();
    this.pending = '';
    return rest ? [rest] : [];
  }
}

// CIM/DMTF datetime: yyyymmddHHMMSS.ffffff±UUU (UUU = minutes east of UTC).
const cimDate = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$/;
// ConvertTo-Json in Windows PowerShell 5.1: "\/Date(1795856892123)\/", optionally with an offset.
const msDate = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/;

/** A date in any form the PowerShell side may send (ISO, CIM datetime, /Date(ms)/); null if none. */
export function parseWindowsDate(value: unknown): Date | null {
  if (typeof value !== 'string' || value.length === 0) return null;
  const cim = cimDate.exec(value);
  if (cim) {
    const [, y, mo, d, h, mi, s, micro, sign, offset] = cim;
    const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
    const offsetMs = Number(offset) * 60_000 * (sign === '-' ? -1 : 1);
    return new Date(local + Math.floor(Number(micro) / 1000) - offsetMs);
  }
  const ms = msDate.exec(value);
  if (ms) return new Date(Number(ms[1]));
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value)) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export interface ProcessLine {
  kind: 'process';
  existing: boolean;
  info: ProcessInfo;
}
export interface CaptureLine {
  kind: 'capture';
  snapshot: CaptureSnapshot;
}
export interface ReadyLine {
  kind: 'ready';
  mode: 'events' | 'poll';
}
export interface ErrorLine {
  kind: 'error';
  message: string;
}
export type BridgeLine = ProcessLine | CaptureLine | ReadyLine | ErrorLine;

export class BridgeLineError extends Error {
  readonly code = 'bridge_line_invalid';
  constructor(message: string, line: string) {
    super(`${message}: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`);
    this.name = 'BridgeLineError';
  }
}

type Json = Record<string, unknown>;

const str = (value: unknown): string => (typeof value === 'string' ? value : '');
const optionalStr = (value: unknown): string | undefined =>
  typeof value === 'string' && value.length > 0 ? value : undefined;
const int = (value: unknown): number | null =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : null;

function processLine(json: Json, line: string): ProcessLine {
  const pid = int(json.pid);
  const ppid = int(json.ppid);
  if (pid === null || ppid === null) throw new BridgeLineError('process line without pid/ppid', line);
  // Win32_Process names the raw CreationDate "CreationDate"; the script sends "created".
  const startTime = parseWindowsDate(json.created ?? json.CreationDate);
  if (!startTime) throw new BridgeLineError('process line without a readable start time', line);
  const info: ProcessInfo = {
    pid,
    ppid,
    name: str(json.name),
    exe: str(json.exe),
    cmdline: str(json.cmdline),
    user: str(json.user),
    startTime,
  };
  const signer = optionalStr(json.signer);
  const originalFileName = optionalStr(json.originalFileName);
  if (signer) info.signer = signer;
  if (originalFileName) info.originalFileName = originalFileName;
  return { kind: 'process', existing: json.existing === true, info };
}

const asArray = (value: unknown): Json[] =>
  (Array.isArray(value) ? value : value && typeof value === 'object' ? [value] : []).filter(
    (v): v is Json => typeof v === 'object' && v !== null,
  );

function captureLine(json: Json): CaptureLine {
  // ConvertTo-Json collapses a one-element array to the element itself, hence asArray.
  const promiscuous = new Set(
    asArray(json.adapters)
      .filter((a) => a.promiscuous === true)
      .map((a) => str(a.name))
      .filter((name) => name.length > 0),
  );
  const drivers = new Map<string, CaptureDriverInfo>();
  for (const d of asArray(json.drivers)) {
    const name = str(d.name);
    if (!name || drivers.has(name.toLowerCase())) continue;
    const driver: CaptureDriverInfo = { name, running: d.running === true };
    const displayName = optionalStr(d.displayName);
    const path = optionalStr(d.path);
    if (displayName) driver.displayName = displayName;
    if (path) driver.path = path;
    drivers.set(name.toLowerCase(), driver);
  }
  const problems = (Array.isArray(json.problems) ? json.problems : [json.problems]).filter(
    (p): p is string => typeof p === 'string' && p.length > 0,
  );
  return {
    kind: 'capture',
    snapshot: { promiscuous, sockets: [], drivers: [...drivers.values()], problems },
  };
}

/** One stdout line of the script; throws BridgeLineError for anything that is not a known line. */
export function parseBridgeLine(line: string): BridgeLine {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new BridgeLineError('not JSON', line);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new BridgeLineError('not a JSON object', line);
  }
  const record = json as Json;
  switch (record.kind) {
    case 'process':
      return processLine(record, line);
    case 'capture':
      return captureLine(record);
    case 'ready':
      return { kind: 'ready', mode: record.mode === 'poll' ? 'poll' : 'events' };
    case 'error':
      return { kind: 'error', message: str(record.message) || 'unknown error' };
    default:
      throw new BridgeLineError(`unknown kind ${JSON.stringify(record.kind)}`, line);
  }
}
