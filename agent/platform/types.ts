// What the sensors need from the operating system. Each platform folder implements these
// readers; the sensors hold the platform-independent logic (diffing, hashing, redaction).

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Short process name (comm / image name). */
  name: string;
  /** Real executable path; empty when the OS does not tell (kernel threads, no permission). */
  exe: string;
  /** Command line as one string, arguments joined with spaces (not yet redacted). */
  cmdline: string;
  uid?: number;
  user: string;
  /** Who logged in to start it (Linux loginuid), when the process belongs to a login session. */
  loginUser?: string;
  cwd?: string;
  startTime: Date;
  /** Windows: Authenticode signer subject, when signed. */
  signer?: string;
  /** Windows: OriginalFileName from the version resource. */
  originalFileName?: string;
}

/** Pull-based process source (Linux /proc, macOS ps): a cheap pid listing, details only for new pids. */
export interface ProcessLister {
  kind: 'poll';
  listPids(): Promise<number[]>;
  /** Details of these pids; pids that vanished meanwhile are simply absent from the result. */
  details(pids: number[]): Promise<Map<number, ProcessInfo>>;
}

/** Push-based process source (Windows: one long-lived PowerShell child subscribed to process starts). */
export interface ProcessStream {
  kind: 'stream';
  /** Existing processes are passed with `existing: true` once at start, so they form the baseline. */
  start(onProcess: (info: ProcessInfo, existing: boolean) => void): Promise<void>;
  stop(): Promise<void>;
}

export type ProcessSource = ProcessLister | ProcessStream;

export interface PacketSocketOwner {
  /** Stable identity of the socket while it lives (inode on Linux, pid+fd on macOS). */
  key: string;
  kind: 'packet' | 'raw' | 'bpf' | 'ndis';
  inode?: number;
  interface?: string;
  protocol?: string;
  pid?: number;
  name?: string;
  exe?: string;
  cmdline?: string;
  user?: string;
  loginUser?: string;
}

export interface CaptureDriverInfo {
  name: string;
  displayName?: string;
  running: boolean;
  path?: string;
}

/** What the OS shows about packet capture right now; the capture sensor diffs successive snapshots. */
export interface CaptureSnapshot {
  /** Interfaces currently in promiscuous mode. */
  promiscuous: Set<string>;
  sockets: PacketSocketOwner[];
  /** Capture drivers and services present (Windows); empty elsewhere. */
  drivers: CaptureDriverInfo[];
  /** Reasons parts of the snapshot could not be read (permissions), for sensor health. */
  problems: string[];
}

export interface CaptureReader {
  snapshot(): Promise<CaptureSnapshot>;
  close?(): Promise<void>;
}
