// Personal-web sensor: reports visits to monitored site categories (webmail, social, personal
// cloud, messaging, remote access) from the browsers' own history databases.
//
// First install: history that exists when the sensor first sees a database is NOT reported;
// its cursor starts at the newest visit. Only a profile that appears while the sensor runs is
// read from its start, and then only visits made after the sensor started.
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type FSWatcher, watch } from 'chokidar';
import type { EventData } from '../../shared/events.js';
import { classifyHost } from '../../shared/web-categories.js';
import { CursorStore } from '../platform/browsers/cursors.js';
import {
  HistoryReadError,
  type HistoryVisit,
  readMaxVisitId,
  readVisitsAfter,
  type VisitBatch,
} from '../platform/browsers/history.js';
import {
  type BrowserProfile,
  currentPlatform,
  discoverProfiles,
  listUserRoots,
  type UserRoot,
} from '../platform/browsers/profiles.js';
import type { Sensor, SensorContext, SensorHealth } from './sensor.js';

export interface WebSensorOptions {
  /** Users whose profiles are searched (default: every user of this machine). */
  roots?: UserRoot[];
  platform?: 'linux' | 'darwin' | 'win32';
  /** Quiet time after the last change of a database before it is read (default 1 s). */
  debounceMs?: number;
  /** How often `scan()` looks for new profiles and missed changes (default 60 s). */
  rescanIntervalMs?: number;
  /** Where private copies of databases are made (default: OS temp dir). */
  tempRoot?: string;
}

interface TrackedDatabase {
  profile: BrowserProfile;
  /** Visits older than this are not reported (profiles that appeared while running). */
  notBefore?: Date;
  timer?: NodeJS.Timeout;
  reading?: Promise<void>;
  /** A change arrived during a read: read again when it ends. */
  dirty: boolean;
  /** mtime+size of the database and its companions at the last read, for the rescan safety net. */
  fingerprint?: string;
  problem?: string;
}

const companionSuffixes = ['', '-wal', '-journal'];
const maxUrlLength = 8192;
const pageSize = 5000;

async function fingerprint(dbPath: string): Promise<string> {
  const parts: string[] = [];
  for (const suffix of companionSuffixes) {
    try {
      const info = await stat(dbPath + suffix);
      parts.push(`${info.mtimeMs}:${info.size}`);
    } catch {
      parts.push('-');
    }
  }
  return parts.join('|');
}

function hostOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.hostname : null;
  } catch {
    return null;
  }
}

class WebSensor implements Sensor {
  readonly name = 'web';
  readonly policyKey = 'web' as const;

  private ctx?: SensorContext;
  private cursors?: CursorStore;
  private watcher?: FSWatcher;
  private readonly databases = new Map<string, TrackedDatabase>();
  /** Files the watcher reports on: each database and its -wal/-journal. */
  private readonly watchedFiles = new Set<string>();
  private discoveryProblems: string[] = [];
  private lastHealth = '';
  private lastDiscovery = 0;
  private startedAt = new Date();
  private stopped = false;

  constructor(private readonly options: WebSensorOptions) {}

  async start(ctx: SensorContext): Promise<void> {
    this.ctx = ctx;
    this.stopped = false;
    this.startedAt = new Date();
    const cursors = new CursorStore(ctx.stateDir);
    await cursors.load();
    this.cursors = cursors;
    this.watcher = watch([], {
      ignoreInitial: true,
      depth: 0,
      atomic: false,
      ignored: (path) => !this.watchedFiles.has(path) && !this.isWatchedDir(path),
    });
    this.watcher.on('all', (_event, path) => this.onFileEvent(path));
    this.watcher.on('error', (error) => ctx.log.warn({ err: error }, 'web sensor watch error'));
    await this.discover(true);
  }

  async scan(): Promise<void> {
    const interval = this.options.rescanIntervalMs ?? 60_000;
    if (Date.now() - this.lastDiscovery < interval) return;
    await this.discover(false);
    // Safety net for missed watch events (network homes, overflowed inotify queues).
    for (const database of this.databases.values()) {
      if (database.fingerprint !== (await fingerprint(database.profile.dbPath))) this.schedule(database, 0);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const database of this.databases.values()) clearTimeout(database.timer);
    await this.watcher?.close();
    await Promise.all([...this.databases.values()].map((database) => database.reading));
    await this.cursors?.save();
  }

  private isWatchedDir(path: string): boolean {
    for (const database of this.databases.values())
      if (dirname(database.profile.dbPath) === path) return true;
    return false;
  }

  private onFileEvent(path: string): void {
    for (const suffix of companionSuffixes) {
      if (!path.endsWith(suffix)) continue;
      const database = this.databases.get(path.slice(0, path.length - suffix.length));
      if (database) {
        this.schedule(database, this.options.debounceMs ?? 1000);
        return;
      }
    }
  }

  private async discover(initial: boolean): Promise<void> {
    const ctx = this.ctx!;
    this.lastDiscovery = Date.now();
    let roots: UserRoot[];
    try {
      roots = this.options.roots ?? (await listUserRoots(this.options.platform));
    } catch (error) {
      this.discoveryProblems = [`cannot list users: ${(error as Error).message}`];
      this.updateHealth();
      return;
    }
    const found = await discoverProfiles(roots, this.options.platform ?? currentPlatform());
    this.discoveryProblems = found.problems;
    const present = new Set(found.profiles.map((profile) => profile.dbPath));
    for (const database of [...this.databases.values()]) {
      if (!present.has(database.profile.dbPath)) this.untrack(database);
    }
    let added = false;
    for (const profile of found.profiles) {
      if (this.databases.has(profile.dbPath)) continue;
      added = true;
      const database: TrackedDatabase = { profile, dirty: false };
      this.databases.set(profile.dbPath, database);
      for (const suffix of companionSuffixes) this.watchedFiles.add(profile.dbPath + suffix);
      this.watcher?.add(dirname(profile.dbPath));
      if (this.cursors!.get(profile.dbPath) === undefined) {
        if (initial) {
          await this.baseline(database);
          continue;
        }
        database.notBefore = this.startedAt;
        this.cursors!.set(profile.dbPath, 0);
      }
      // Catch up on visits made while the agent was not running (or since the new profile appeared).
      this.schedule(database, 0);
    }
    if (added) await this.cursors!.save();
    ctx.log.debug({ databases: this.databases.size }, 'web sensor discovery done');
    this.updateHealth();
  }

  /**
   * Stops following a database that is gone (profile deleted). Its cursor is kept: if the
   * database comes back with restarted ids, the reader notices and starts over.
   */
  private untrack(database: TrackedDatabase): void {
    const { dbPath } = database.profile;
    clearTimeout(database.timer);
    this.databases.delete(dbPath);
    for (const suffix of companionSuffixes) this.watchedFiles.delete(dbPath + suffix);
    const dir = dirname(dbPath);
    if (!this.isWatchedDir(dir)) this.watcher?.unwatch(dir);
  }

  private async baseline(database: TrackedDatabase): Promise<void> {
    const { kind, dbPath } = database.profile;
    try {
      this.cursors!.set(dbPath, await readMaxVisitId(kind, dbPath, { tempRoot: this.options.tempRoot }));
      database.fingerprint = await fingerprint(dbPath);
      database.problem = undefined;
    } catch (error) {
      database.problem = this.describe(error);
    }
  }

  private schedule(database: TrackedDatabase, delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(database.timer);
    database.timer = setTimeout(() => {
      database.timer = undefined;
      this.read(database);
    }, delayMs);
  }

  private read(database: TrackedDatabase): void {
    if (database.reading) {
      database.dirty = true;
      return;
    }
    database.reading = this.readOnce(database).finally(() => {
      database.reading = undefined;
      if (database.dirty && !this.stopped) {
        database.dirty = false;
        this.read(database);
      }
    });
  }

  private async readOnce(database: TrackedDatabase): Promise<void> {
    const { kind, dbPath } = database.profile;
    const cursors = this.cursors!;
    try {
      const before = await fingerprint(dbPath);
      const stored = cursors.get(dbPath);
      if (stored === undefined) {
        // The baseline failed at start (no permission then); take it now rather than report old history.
        await this.baseline(database);
        this.updateHealth();
        return;
      }
      let cursor = stored;
      let batch: VisitBatch;
      do {
        batch = await readVisitsAfter(kind, dbPath, cursor, {
          limit: pageSize,
          tempRoot: this.options.tempRoot,
        });
        for (const visit of batch.visits) this.report(database, visit);
        cursor = batch.cursor;
      } while (batch.visits.length >= pageSize);
      cursors.set(dbPath, cursor);
      await cursors.save();
      database.fingerprint = before;
      database.problem = undefined;
    } catch (error) {
      database.problem = this.describe(error);
      this.ctx!.log.warn({ err: error, dbPath }, 'web sensor cannot read history');
    }
    this.updateHealth();
  }

  private report(database: TrackedDatabase, visit: HistoryVisit): void {
    const ctx = this.ctx!;
    if (database.notBefore && visit.visitTime < database.notBefore) return;
    const host = hostOf(visit.url);
    if (!host) return;
    const policy = ctx.policy();
    const category = classifyHost(host, policy.web);
    if (!category) return;
    const { browser, profile, user } = database.profile;
    const data: EventData<'web.visit'> = {
      browser,
      profile,
      user,
      host: host.slice(0, 512),
      category,
      visitTime: visit.visitTime.toISOString(),
    };
    if (policy.privacyLevel === 'full' && visit.url.length <= maxUrlLength) data.url = visit.url;
    ctx.emit('web.visit', data);
  }

  private describe(error: unknown): string {
    if (error instanceof HistoryReadError && error.isPermissionDenied)
      return `no permission: ${error.dbPath}`;
    return (error as Error).message;
  }

  private updateHealth(): void {
    const problems = [
      ...this.discoveryProblems,
      ...[...this.databases.values()].flatMap((database) => (database.problem ? [database.problem] : [])),
    ];
    const health: SensorHealth =
      problems.length === 0
        ? { state: 'ok' }
        : { state: 'degraded', reason: problems.join('; ').slice(0, 1024) };
    const key = JSON.stringify(health);
    if (key === this.lastHealth) return;
    this.lastHealth = key;
    this.ctx!.setHealth(health);
  }
}

export function createWebSensor(options: WebSensorOptions = {}): Sensor {
  return new WebSensor(options);
}
