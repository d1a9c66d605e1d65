// Packet capture files being written where people keep or stage files: every user's Desktop,
// Documents and Downloads, the temp folders, and the policy's extra folders. chokidar watches
// directories (depth-bounded, heavy trees skipped); only .pcap/.pcapng/.cap/.etl/.har pass.
//
// Reporting: once when a capture file appears (or an existing one starts growing), after a short
// settle delay so the event carries a meaningful size. Further writes are one capture session and
// stay silent; a file that was quiet for `quietMs` (default 30 min) and grows again is a new
// session and is reported again. A file deleted and created again is new.
import { realpathSync } from 'node:fs';
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { platform as hostPlatform, tmpdir } from 'node:os';
import { basename, delimiter, extname, join, resolve, sep } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { EventData } from '../../shared/events.js';
import { listPids, PROC, ProcReader, UserNames } from '../platform/linux/procfs.js';
import type { Sensor, SensorContext } from './sensor.js';

export const CAPTURE_FILE_EXTENSIONS = ['pcap', 'pcapng', 'cap', 'etl', 'har'] as const;

/** Directories never descended into: big, churning and never where someone saves a capture. */
const SKIPPED_DIRS = new Set([
  'node_modules',
  '.git',
  '.hg',
  '.svn',
  '.cache',
  '.npm',
  '.pnpm-store',
  '.yarn',
  '.cargo',
  '.rustup',
  '.gradle',
  '.m2',
  '.venv',
  'venv',
  '__pycache__',
  'site-packages',
  '.Trash',
]);

/**
 * Extensions of files that churn in temp folders, ignored by name before any lstat. A directory
 * named like this (rare) is not descended into.
 */
const COMMON_FILE_EXTENSIONS = new Set(
  (
    'tmp temp log json js mjs cjs ts map txt db sqlite sqlite3 journal wal shm lock pid sock so o py pyc ' +
    'html css png jpg jpeg gif svg webp ico xml yml yaml md gz zip tar tgz xz bz2 part crdownload partial ' +
    'lck bak swp old sql csv ini conf cfg toml dat bin out err'
  ).split(' '),
);

export interface CaptureFileSensorOptions {
  /** Watch exactly these folders instead of the OS defaults (tests). Policy and extra folders still add. */
  roots?: string[];
  /** Folders watched besides the defaults and the policy's (the agent's --capture-dirs / VIGIL_CAPTURE_DIRS). */
  extraFolders?: string[];
  /** Folders never watched, even inside a watched one (the agent's state and log folders). */
  excludedFolders?: string[];
  /** How many levels below each folder are watched. */
  depth?: number;
  /** How deep to watch the shared temp folders (default 1: their files and one folder down). */
  tempDepth?: number;
  /** Which watched folders are shared temp folders (default: /tmp, /var/tmp, …\\Temp among the defaults). */
  tempRoots?: string[];
  /** Delay between the first sign of a file and its report, so its size and writer are settled. */
  settleMs?: number;
  /** A reported file that stays unchanged this long and then grows is reported again. */
  quietMs?: number;
  /** How often the default folders are listed again (new users' homes). */
  rootsRefreshMs?: number;
  platform?: NodeJS.Platform;
  proc?: string;
  /**
   * Host folders this process sees elsewhere (host → seen), when it runs with a private /tmp
   * (systemd PrivateTmp= with the host's bound read-only, see agent/service/systemd.ts). Folders
   * are watched at the seen path and reported with the host path. Default: VIGIL_HOST_TEMP_DIRS.
   */
  hostFolders?: ReadonlyMap<string, string>;
}

/** `VIGIL_HOST_TEMP_DIRS`: `host=seen` pairs separated by ':' (host → seen). */
export function parseHostFolders(value: string | undefined): Map<string, string> {
  const folders = new Map<string, string>();
  for (const pair of (value ?? '').split(':')) {
    const [host, seen] = pair.split('=').map((part) => part.trim());
    if (host && seen) folders.set(resolve(host), resolve(seen));
  }
  return folders;
}

/** Rewrites a path under one of `from`'s keys to the same path under its value. */
function rebase(path: string, from: ReadonlyMap<string, string>): string {
  for (const [prefix, replacement] of from) {
    if (path === prefix) return replacement;
    if (path.startsWith(prefix + sep)) return replacement + path.slice(prefix.length);
  }
  return path;
}

/** The capture extension of a path (lower case), or undefined for any other file. */
export function captureExtension(path: string): string | undefined {
  const ext = extname(path).slice(1).toLowerCase();
  return (CAPTURE_FILE_EXTENSIONS as readonly string[]).includes(ext) ? ext : undefined;
}

/** Splits VIGIL_CAPTURE_DIRS-style lists (the OS path delimiter) into folders. */
export function parseFolderList(value: string | undefined, pathDelimiter = delimiter): string[] {
  return (value ?? '')
    .split(pathDelimiter)
    .map((folder) => folder.trim())
    .filter(Boolean);
}

const USER_FOLDERS = ['Desktop', 'Documents', 'Downloads'];
/** Basenames of the shared temp folders among the defaults (/tmp, /var/tmp, …\\Temp, macOS's $TMPDIR …/T). */
const TEMP_FOLDER_NAMES = new Set(['tmp', 'Temp', 'T']);

async function listDir(path: string): Promise<string[]> {
  return readdir(path).catch(() => [] as string[]);
}

/** Home directories of real users on Linux: /home/*, /root and passwd homes of uid ≥ 1000. */
async function linuxHomes(): Promise<string[]> {
  const homes = new Set(['/root', ...(await listDir('/home')).map((name) => join('/home', name))]);
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  for (const line of passwd.split('\n')) {
    const [, , uid, , , home] = line.split(':');
    if (home && Number(uid) >= 1000 && Number(uid) < 65534 && home !== '/') homes.add(home);
  }
  return [...homes];
}

/** The folders watched by default on each OS, before checking which exist. */
export async function defaultCaptureFolders(platform: NodeJS.Platform = hostPlatform()): Promise<string[]> {
  if (platform === 'win32') {
    const drive = process.env.SystemDrive ?? 'C:';
    const users = join(`${drive}\\`, 'Users');
    const folders = [join(`${drive}\\`, 'Windows', 'Temp')];
    for (const user of await listDir(users)) {
      const home = join(users, user);
      folders.push(...USER_FOLDERS.map((f) => join(home, f)), join(home, 'AppData', 'Local', 'Temp'));
    }
    return folders;
  }
  if (platform === 'darwin') {
    const folders = ['/private/tmp', process.env.TMPDIR ?? tmpdir()];
    for (const user of await listDir('/Users'))
      folders.push(...USER_FOLDERS.map((f) => join('/Users', user, f)));
    return folders;
  }
  const folders = ['/tmp', '/var/tmp'];
  for (const home of await linuxHomes()) folders.push(...USER_FOLDERS.map((f) => join(home, f)));
  return folders;
}

async function existingDirs(paths: string[]): Promise<string[]> {
  const checked = await Promise.all(
    [...new Set(paths)].map(async (path) =>
      (await stat(path).catch(() => undefined))?.isDirectory() ? path : undefined,
    ),
  );
  return checked.filter((path): path is string => path !== undefined).sort();
}

/** The process holding a file open, preferring one that opened it for writing (Linux /proc). */
export async function findFileWriter(
  path: string,
  proc = PROC,
  /** The same file as the writer's mount namespace names it (a host path seen through a bind). */
  alsoNamed?: string,
): Promise<{ pid: number; writing: boolean } | undefined> {
  const targets = new Set([await realpath(path).catch(() => path), ...(alsoNamed ? [alsoNamed] : [])]);
  let reader: { pid: number; writing: boolean } | undefined;
  const pids = await listPids(proc);
  // In batches: a few hundred processes are checked in one or two event-loop turns each.
  for (let i = 0; i < pids.length; i += 64) {
    const found = await Promise.all(
      pids.slice(i, i + 64).map(async (pid) => {
        if (pid === process.pid) return undefined;
        for (const fd of await listDir(`${proc}/${pid}/fd`)) {
          const link = await readlink(`${proc}/${pid}/fd/${fd}`).catch(() => undefined);
          if (link === undefined || !targets.has(link)) continue;
          const fdinfo = await readFile(`${proc}/${pid}/fdinfo/${fd}`, 'utf8').catch(() => '');
          const flags = Number.parseInt(/^flags:\s+([0-7]+)/m.exec(fdinfo)?.[1] ?? '0', 8);
          // O_ACCMODE: 1 = O_WRONLY, 2 = O_RDWR.
          return { pid, writing: (flags & 3) !== 0 };
        }
        return undefined;
      }),
    );
    for (const holder of found) {
      if (holder?.writing) return holder;
      reader ??= holder;
    }
  }
  return reader;
}

interface TrackedFile {
  timer?: NodeJS.Timeout;
  reportedAt?: number;
  lastChangeAt: number;
}

export function createCaptureFileSensor(options: CaptureFileSensorOptions = {}): Sensor {
  const platform = options.platform ?? hostPlatform();
  const proc = options.proc ?? PROC;
  const depth = options.depth ?? 3;
  // Shared temp folders are the busiest trees on a machine (every program's scratch files): watch
  // them shallower than the users' own folders. A capture file lands at their top or one folder down.
  const tempDepth = options.tempDepth ?? 1;
  // Both spellings of each: chokidar reports paths under the folder as it was given (/tmp on macOS
  // is /private/tmp underneath).
  const excluded = [
    ...new Set(
      (options.excludedFolders ?? []).flatMap((dir) => {
        const full = resolve(dir);
        try {
          return [full, realpathSync(full)];
        } catch {
          return [full];
        }
      }),
    ),
  ];
  const settleMs = options.settleMs ?? 300;
  const quietMs = options.quietMs ?? 30 * 60_000;
  const rootsRefreshMs = options.rootsRefreshMs ?? 60_000;
  const users = new UserNames();
  const hostToSeen =
    options.hostFolders ??
    (platform === 'linux' ? parseHostFolders(process.env.VIGIL_HOST_TEMP_DIRS) : new Map<string, string>());
  const seenToHost = new Map([...hostToSeen].map(([host, seen]) => [seen, host]));
  const procReader = platform === 'linux' ? new ProcReader(proc) : undefined;
  const tracked = new Map<string, TrackedFile>();
  let ctx: SensorContext;
  let watcher: FSWatcher | undefined;
  let watchedKey = '';
  let defaults: string[] = [];
  let tempRoots: string[] = [];
  let defaultsAt = 0;
  let stopped = false;
  let lastPolicyKey = '';
  let checkedAt = 0;

  async function wantedFolders(): Promise<string[]> {
    if (!options.roots && Date.now() - defaultsAt >= rootsRefreshMs) {
      defaults = await defaultCaptureFolders(platform);
      defaultsAt = Date.now();
    }
    const base = options.roots ?? defaults;
    tempRoots = (
      options.tempRoots ?? defaults.filter((folder) => TEMP_FOLDER_NAMES.has(basename(folder)))
    ).map((folder) => rebase(folder, hostToSeen));
    return existingDirs(
      [...base, ...ctx.policy().captureFileFolders, ...(options.extraFolders ?? [])].map((folder) =>
        rebase(folder, hostToSeen),
      ),
    );
  }

  function ownerName(uid: number): string | undefined {
    if (platform === 'win32') return undefined;
    return platform === 'linux' ? users.name(uid) : String(uid);
  }

  async function report(path: string): Promise<void> {
    const entry = tracked.get(path);
    if (!entry || stopped) return;
    entry.timer = undefined;
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) {
      tracked.delete(path);
      return;
    }
    entry.reportedAt = Date.now();
    // Watched through a bind of a host folder: the event names the file as the host does.
    const hostPath = rebase(path, seenToHost);
    const writer =
      platform === 'linux'
        ? await findFileWriter(path, proc, hostPath === path ? undefined : hostPath).catch(() => undefined)
        : undefined;
    const details = writer ? await procReader?.details(writer.pid) : undefined;
    const owner = ownerName(info.uid);
    const data: EventData<'capture.file'> = {
      path: hostPath,
      extension: captureExtension(path) ?? extname(path).slice(1).toLowerCase(),
      size: info.size,
      ...(owner !== undefined && { owner }),
      ...(writer && { pid: writer.pid }),
      ...(details?.name && { name: details.name }),
      ...(details?.exe && { exe: details.exe }),
    };
    ctx.emit('capture.file', data, { live: true });
  }

  function onWrite(path: string): void {
    if (!captureExtension(path)) return;
    const now = Date.now();
    const entry = tracked.get(path);
    if (!entry) {
      const fresh: TrackedFile = { lastChangeAt: now };
      tracked.set(path, fresh);
      fresh.timer = setTimeout(
        () => void report(path).catch((err) => ctx.log.warn({ err, path }, 'capture file report failed')),
        settleMs,
      );
      return;
    }
    const quietFor = now - entry.lastChangeAt;
    entry.lastChangeAt = now;
    if (entry.reportedAt !== undefined && !entry.timer && quietFor >= quietMs) {
      entry.timer = setTimeout(
        () => void report(path).catch((err) => ctx.log.warn({ err, path }, 'capture file report failed')),
        settleMs,
      );
    }
  }

  function forget(path: string): void {
    clearTimeout(tracked.get(path)?.timer);
    tracked.delete(path);
  }

  function ignored(path: string, stats?: { isFile(): boolean }): boolean {
    if (SKIPPED_DIRS.has(basename(path))) return true;
    if (excluded.some((dir) => path === dir || path.startsWith(dir + sep))) return true;
    if (tooDeepInTemp(path)) return true;
    // Decided on the name alone, chokidar does not lstat the path: busy temp folders churn files.
    if (stats === undefined) return COMMON_FILE_EXTENSIONS.has(extname(path).slice(1).toLowerCase());
    return stats.isFile() && captureExtension(path) === undefined;
  }

  function tooDeepInTemp(path: string): boolean {
    for (const root of tempRoots) {
      if (!path.startsWith(root + sep)) continue;
      return path.slice(root.length + 1).split(sep).length > tempDepth + 1;
    }
    return false;
  }

  async function closeWatcher(): Promise<void> {
    const current = watcher;
    watcher = undefined;
    await current?.close();
  }

  /** (Re)creates the watcher when the set of folders changed; cheap no-op otherwise. */
  async function syncWatches(): Promise<void> {
    // Folders are checked on disk only when the policy's list changed or every rootsRefreshMs
    // (a per-second scan must stay nearly free).
    const policyKey = ctx.policy().captureFileFolders.join('\n');
    if (watcher && policyKey === lastPolicyKey && Date.now() - checkedAt < rootsRefreshMs) return;
    lastPolicyKey = policyKey;
    checkedAt = Date.now();
    const folders = await wantedFolders();
    const key = folders.join('\n');
    if (key === watchedKey && watcher) return;
    await closeWatcher();
    watchedKey = key;
    if (folders.length === 0 || stopped) return;
    const next = watch(folders, {
      ignoreInitial: true,
      depth,
      ignored,
      ignorePermissionErrors: true,
      followSymlinks: false,
      persistent: false,
    });
    next.on('add', onWrite).on('change', onWrite).on('unlink', forget);
    next.on('error', (err) => ctx.log.warn({ err }, 'capture file watcher error'));
    await new Promise<void>((resolve) => next.once('ready', () => resolve()));
    watcher = next;
    ctx.log.debug({ folders }, 'watching folders for capture files');
  }

  return {
    name: 'captureFiles',
    policyKey: 'captureFiles',
    async start(context) {
      ctx = context;
      stopped = false;
      defaultsAt = 0;
      checkedAt = 0;
      await syncWatches();
    },
    /** Applies policy folder changes (and new users' homes) by re-watching. */
    async scan() {
      await syncWatches();
    },
    async stop() {
      stopped = true;
      for (const entry of tracked.values()) clearTimeout(entry.timer);
      tracked.clear();
      watchedKey = '';
      await closeWatcher();
    },
  };
}
