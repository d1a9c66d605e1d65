// Finds every browser profile with a history database, for every user on the machine.
// Layouts are fixed per browser and OS, so this is a directory walk, not a config parse:
// profiles.ini (Firefox) and Local State (Chromium) are ignored on purpose, because a profile
// the browser has forgotten about still holds history.
import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export type BrowserKind = 'chromium' | 'firefox' | 'safari';

export interface BrowserProfile {
  /** Display name: Chrome, Edge, Firefox, Safari, ... */
  browser: string;
  /** Profile directory name (Default, Profile 1, abcd1234.default-release). */
  profile: string;
  /** OS user owning the profile. */
  user: string;
  /** The history database: History, places.sqlite or History.db. */
  dbPath: string;
  kind: BrowserKind;
}

/** Where one user's profiles live. On Windows the AppData folders default to the home's. */
export interface UserRoot {
  user: string;
  home: string;
  localAppData?: string;
  appData?: string;
}

export interface DiscoveryResult {
  profiles: BrowserProfile[];
  /** Directories that exist but could not be read, for sensor health. */
  problems: string[];
}

type Platform = 'linux' | 'darwin' | 'win32';

interface ChromiumRoot {
  browser: string;
  dir: string;
  /** Opera keeps History directly in its root instead of in Default/. */
  historyInRoot?: boolean;
}

function linuxChromiumRoots(home: string): ChromiumRoot[] {
  const config = join(home, '.config');
  const flatpak = (id: string, sub: string) => join(home, '.var', 'app', id, 'config', sub);
  return [
    { browser: 'Chrome', dir: join(config, 'google-chrome') },
    { browser: 'Chrome Beta', dir: join(config, 'google-chrome-beta') },
    { browser: 'Edge', dir: join(config, 'microsoft-edge') },
    { browser: 'Brave', dir: join(config, 'BraveSoftware', 'Brave-Browser') },
    { browser: 'Chromium', dir: join(config, 'chromium') },
    { browser: 'Vivaldi', dir: join(config, 'vivaldi') },
    { browser: 'Opera', dir: join(config, 'opera'), historyInRoot: true },
    { browser: 'Chromium', dir: join(home, 'snap', 'chromium', 'common', 'chromium') },
    {
      browser: 'Brave',
      dir: join(home, 'snap', 'brave', 'current', '.config', 'BraveSoftware', 'Brave-Browser'),
    },
    { browser: 'Chrome', dir: flatpak('com.google.Chrome', 'google-chrome') },
    { browser: 'Edge', dir: flatpak('com.microsoft.Edge', 'microsoft-edge') },
    { browser: 'Brave', dir: flatpak('com.brave.Browser', join('BraveSoftware', 'Brave-Browser')) },
    { browser: 'Chromium', dir: flatpak('org.chromium.Chromium', 'chromium') },
    { browser: 'Vivaldi', dir: flatpak('com.vivaldi.Vivaldi', 'vivaldi') },
    { browser: 'Opera', dir: flatpak('com.opera.Opera', 'opera'), historyInRoot: true },
  ];
}

function macChromiumRoots(home: string): ChromiumRoot[] {
  const support = join(home, 'Library', 'Application Support');
  return [
    { browser: 'Chrome', dir: join(support, 'Google', 'Chrome') },
    { browser: 'Chrome Beta', dir: join(support, 'Google', 'Chrome Beta') },
    { browser: 'Edge', dir: join(support, 'Microsoft Edge') },
    { browser: 'Brave', dir: join(support, 'BraveSoftware', 'Brave-Browser') },
    { browser: 'Chromium', dir: join(support, 'Chromium') },
    { browser: 'Vivaldi', dir: join(support, 'Vivaldi') },
    { browser: 'Opera', dir: join(support, 'com.operasoftware.Opera'), historyInRoot: true },
    { browser: 'Opera GX', dir: join(support, 'com.operasoftware.OperaGX'), historyInRoot: true },
  ];
}

function windowsChromiumRoots(root: UserRoot): ChromiumRoot[] {
  const local = root.localAppData ?? join(root.home, 'AppData', 'Local');
  const roaming = root.appData ?? join(root.home, 'AppData', 'Roaming');
  return [
    { browser: 'Chrome', dir: join(local, 'Google', 'Chrome', 'User Data') },
    { browser: 'Chrome Beta', dir: join(local, 'Google', 'Chrome Beta', 'User Data') },
    { browser: 'Edge', dir: join(local, 'Microsoft', 'Edge', 'User Data') },
    { browser: 'Brave', dir: join(local, 'BraveSoftware', 'Brave-Browser', 'User Data') },
    { browser: 'Chromium', dir: join(local, 'Chromium', 'User Data') },
    { browser: 'Vivaldi', dir: join(local, 'Vivaldi', 'User Data') },
    { browser: 'Opera', dir: join(roaming, 'Opera Software', 'Opera Stable'), historyInRoot: true },
    { browser: 'Opera GX', dir: join(roaming, 'Opera Software', 'Opera GX Stable'), historyInRoot: true },
  ];
}

function firefoxRoots(platform: Platform, root: UserRoot): string[] {
  if (platform === 'darwin')
    return [join(root.home, 'Library', 'Application Support', 'Firefox', 'Profiles')];
  if (platform === 'win32') {
    const roaming = root.appData ?? join(root.home, 'AppData', 'Roaming');
    return [join(roaming, 'Mozilla', 'Firefox', 'Profiles')];
  }
  return [
    join(root.home, '.mozilla', 'firefox'),
    join(root.home, 'snap', 'firefox', 'common', '.mozilla', 'firefox'),
    join(root.home, '.var', 'app', 'org.mozilla.firefox', '.mozilla', 'firefox'),
  ];
}

const chromiumProfileDir = /^(Default|Profile \d+)$/;

class DirectoryScanner {
  readonly problems: string[] = [];

  /** Entries of a directory; a missing directory is normal, anything else is a problem. */
  async list(dir: string): Promise<string[]> {
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    } catch (error) {
      this.note(dir, error);
      return [];
    }
  }

  async isFile(path: string): Promise<boolean> {
    try {
      return (await stat(path)).isFile();
    } catch (error) {
      this.note(path, error);
      return false;
    }
  }

  private note(path: string, error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    this.problems.push(`cannot read ${path}: ${code ?? String(error)}`);
  }
}

async function scanChromium(
  scanner: DirectoryScanner,
  user: string,
  root: ChromiumRoot,
): Promise<BrowserProfile[]> {
  const found: BrowserProfile[] = [];
  const add = (profile: string, dbPath: string) =>
    found.push({ browser: root.browser, profile, user, dbPath, kind: 'chromium' });
  if (root.historyInRoot && (await scanner.isFile(join(root.dir, 'History')))) {
    add('Default', join(root.dir, 'History'));
  }
  for (const name of (await scanner.list(root.dir)).sort()) {
    if (!chromiumProfileDir.test(name)) continue;
    const dbPath = join(root.dir, name, 'History');
    if (await scanner.isFile(dbPath)) add(name, dbPath);
  }
  return found;
}

async function scanFirefox(scanner: DirectoryScanner, user: string, dir: string): Promise<BrowserProfile[]> {
  const found: BrowserProfile[] = [];
  for (const name of (await scanner.list(dir)).sort()) {
    const dbPath = join(dir, name, 'places.sqlite');
    if (await scanner.isFile(dbPath))
      found.push({ browser: 'Firefox', profile: name, user, dbPath, kind: 'firefox' });
  }
  return found;
}

/** All history databases of the given users, in a stable order. Never throws for unreadable dirs. */
export async function discoverProfiles(
  roots: readonly UserRoot[],
  platform: Platform = currentPlatform(),
): Promise<DiscoveryResult> {
  const scanner = new DirectoryScanner();
  const profiles: BrowserProfile[] = [];
  for (const root of roots) {
    const chromiumRoots =
      platform === 'darwin'
        ? macChromiumRoots(root.home)
        : platform === 'win32'
          ? windowsChromiumRoots(root)
          : linuxChromiumRoots(root.home);
    for (const chromiumRoot of chromiumRoots)
      profiles.push(...(await scanChromium(scanner, root.user, chromiumRoot)));
    for (const dir of firefoxRoots(platform, root))
      profiles.push(...(await scanFirefox(scanner, root.user, dir)));
    if (platform === 'darwin') {
      const safari = join(root.home, 'Library', 'Safari', 'History.db');
      if (await scanner.isFile(safari)) {
        profiles.push({
          browser: 'Safari',
          profile: 'Default',
          user: root.user,
          dbPath: safari,
          kind: 'safari',
        });
      }
    }
  }
  return { profiles, problems: scanner.problems };
}

export function currentPlatform(): Platform {
  const platform = process.platform;
  return platform === 'darwin' || platform === 'win32' ? platform : 'linux';
}

/** Linux: users with uid ≥ 1000 (except nobody) plus root, from a passwd-format file. */
export function parsePasswd(text: string): UserRoot[] {
  const roots: UserRoot[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    const [user, , uidText, , , home] = fields;
    if (!user || !home || uidText === undefined || line.startsWith('#')) continue;
    const uid = Number(uidText);
    if (!Number.isInteger(uid)) continue;
    if (uid === 0 || (uid >= 1000 && uid !== 65534)) roots.push({ user, home });
  }
  return roots;
}

/** Windows: the ProfileList key of `reg query ... /s`, mapped to user name (folder name) and home. */
export function parseWindowsProfileList(regOutput: string): UserRoot[] {
  const roots: UserRoot[] = [];
  for (const match of regOutput.matchAll(/ProfileImagePath\s+REG_EXPAND_SZ\s+(.+)/g)) {
    const home = (match[1] ?? '').trim();
    // Service accounts live under C:\Windows; only real user homes are of interest.
    if (!/^[a-z]:\\users\\/i.test(home)) continue;
    const user = home.split('\\').pop() ?? home;
    roots.push({ user, home });
  }
  return roots;
}

const execFileAsync = promisify(execFile);

/** The users of this machine and their home directories. */
export async function listUserRoots(platform: Platform = currentPlatform()): Promise<UserRoot[]> {
  if (platform === 'linux') return parsePasswd(await readFile('/etc/passwd', 'utf8'));
  if (platform === 'darwin')
    return listDirectoryUsers('/Users', (name) => name !== 'Shared' && !name.startsWith('.'));
  try {
    const { stdout } = await execFileAsync(
      'reg',
      [
        'query',
        'HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList',
        '/s',
        '/v',
        'ProfileImagePath',
      ],
      { windowsHide: true },
    );
    const roots = parseWindowsProfileList(stdout);
    if (roots.length > 0) return roots;
  } catch {
    // No registry access: fall back to the conventional folder below.
  }
  const usersDir = `${process.env.SystemDrive ?? 'C:'}\\Users`;
  return listDirectoryUsers(
    usersDir,
    (name) => !['Public', 'Default', 'Default User', 'All Users'].includes(name),
  );
}

async function listDirectoryUsers(dir: string, keep: (name: string) => boolean): Promise<UserRoot[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isDirectory() && keep(entry.name))
    .map((entry) => ({ user: entry.name, home: join(dir, entry.name) }));
}
