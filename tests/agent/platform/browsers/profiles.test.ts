import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  discoverProfiles,
  listUserRoots,
  parsePasswd,
  parseWindowsProfileList,
} from '../../../../agent/platform/browsers/profiles.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vigil-profiles-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function touch(...parts: string[]): Promise<string> {
  const path = join(dir, ...parts);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, '');
  return path;
}

describe('discoverProfiles on Linux layouts', () => {
  it('finds Chromium-family profiles, Opera in its root, snap, flatpak and Firefox profiles', async () => {
    const chromeDefault = await touch('alice', '.config', 'google-chrome', 'Default', 'History');
    const chromeProfile2 = await touch('alice', '.config', 'google-chrome', 'Profile 2', 'History');
    await touch('alice', '.config', 'google-chrome', 'System Profile', 'History');
    await mkdir(join(dir, 'alice', '.config', 'google-chrome', 'Profile 3'), { recursive: true });
    const brave = await touch('alice', '.config', 'BraveSoftware', 'Brave-Browser', 'Default', 'History');
    const opera = await touch('alice', '.config', 'opera', 'History');
    const snap = await touch('alice', 'snap', 'chromium', 'common', 'chromium', 'Default', 'History');
    const flatpak = await touch(
      'alice',
      '.var',
      'app',
      'com.microsoft.Edge',
      'config',
      'microsoft-edge',
      'Default',
      'History',
    );
    const firefox = await touch('alice', '.mozilla', 'firefox', 'abcd.default-release', 'places.sqlite');
    await mkdir(join(dir, 'alice', '.mozilla', 'firefox', 'Crash Reports'), { recursive: true });
    const snapFirefox = await touch(
      'bob',
      'snap',
      'firefox',
      'common',
      '.mozilla',
      'firefox',
      'x1.default',
      'places.sqlite',
    );

    const result = await discoverProfiles(
      [
        { user: 'alice', home: join(dir, 'alice') },
        { user: 'bob', home: join(dir, 'bob') },
        { user: 'carol', home: join(dir, 'carol-does-not-exist') },
      ],
      'linux',
    );
    expect(result.problems).toEqual([]);
    expect(result.profiles).toEqual([
      { browser: 'Chrome', profile: 'Default', user: 'alice', dbPath: chromeDefault, kind: 'chromium' },
      { browser: 'Chrome', profile: 'Profile 2', user: 'alice', dbPath: chromeProfile2, kind: 'chromium' },
      { browser: 'Brave', profile: 'Default', user: 'alice', dbPath: brave, kind: 'chromium' },
      { browser: 'Opera', profile: 'Default', user: 'alice', dbPath: opera, kind: 'chromium' },
      { browser: 'Chromium', profile: 'Default', user: 'alice', dbPath: snap, kind: 'chromium' },
      { browser: 'Edge', profile: 'Default', user: 'alice', dbPath: flatpak, kind: 'chromium' },
      {
        browser: 'Firefox',
        profile: 'abcd.default-release',
        user: 'alice',
        dbPath: firefox,
        kind: 'firefox',
      },
      { browser: 'Firefox', profile: 'x1.default', user: 'bob', dbPath: snapFirefox, kind: 'firefox' },
    ]);
  });

  it('reports an unreadable profile root as a problem instead of throwing', async () => {
    // A file where a directory should be: readdir fails with something other than ENOENT.
    await touch('alice', '.config', 'google-chrome');
    const firefox = await touch('alice', '.mozilla', 'firefox', 'p.default', 'places.sqlite');
    const result = await discoverProfiles([{ user: 'alice', home: join(dir, 'alice') }], 'linux');
    expect(result.profiles.map((profile) => profile.dbPath)).toEqual([firefox]);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toContain('google-chrome');
    expect(result.problems[0]).toContain('ENOTDIR');
  });
});

describe('discoverProfiles on macOS and Windows layouts', () => {
  it('finds macOS Chrome, Opera GX, Firefox and Safari', async () => {
    const support = ['alice', 'Library', 'Application Support'];
    const chrome = await touch(...support, 'Google', 'Chrome', 'Default', 'History');
    const operaGx = await touch(...support, 'com.operasoftware.OperaGX', 'History');
    const firefox = await touch(...support, 'Firefox', 'Profiles', 'q.default-release', 'places.sqlite');
    const safari = await touch('alice', 'Library', 'Safari', 'History.db');
    const result = await discoverProfiles([{ user: 'alice', home: join(dir, 'alice') }], 'darwin');
    expect(result.profiles.map((profile) => [profile.browser, profile.kind, profile.dbPath])).toEqual([
      ['Chrome', 'chromium', chrome],
      ['Opera GX', 'chromium', operaGx],
      ['Firefox', 'firefox', firefox],
      ['Safari', 'safari', safari],
    ]);
  });

  it('finds Windows profiles under LocalAppData and AppData (Opera in Roaming)', async () => {
    const edge = await touch(
      'alice',
      'AppData',
      'Local',
      'Microsoft',
      'Edge',
      'User Data',
      'Profile 1',
      'History',
    );
    const opera = await touch('alice', 'AppData', 'Roaming', 'Opera Software', 'Opera Stable', 'History');
    const firefox = await touch(
      'alice',
      'AppData',
      'Roaming',
      'Mozilla',
      'Firefox',
      'Profiles',
      'z.default',
      'places.sqlite',
    );
    const result = await discoverProfiles([{ user: 'alice', home: join(dir, 'alice') }], 'win32');
    expect(result.profiles.map((profile) => [profile.browser, profile.profile, profile.dbPath])).toEqual([
      ['Edge', 'Profile 1', edge],
      ['Opera', 'Default', opera],
      ['Firefox', 'z.default', firefox],
    ]);
  });
});

describe('user lists', () => {
  it('takes root and uid ≥ 1000 users from passwd, not system users or nobody', () => {
    const passwd = [
      'root:x:0:0:root:/root:/bin/bash',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      '# comment',
      'alice:x:1000:1000:Alice:/home/alice:/bin/bash',
      'bob:x:1001:1001::/srv/bob:/bin/sh',
      '',
    ].join('\n');
    expect(parsePasswd(passwd)).toEqual([
      { user: 'root', home: '/root' },
      { user: 'alice', home: '/home/alice' },
      { user: 'bob', home: '/srv/bob' },
    ]);
  });

  it('takes user homes from the Windows ProfileList, skipping service profiles', () => {
    const output = [
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-5-18',
      '    ProfileImagePath    REG_EXPAND_SZ    %systemroot%\\system32\\config\\systemprofile',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-5-21-1-1001',
      '    ProfileImagePath    REG_EXPAND_SZ    C:\\Users\\agent.one',
      'HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList\\S-1-5-21-1-1002',
      '    ProfileImagePath    REG_EXPAND_SZ    D:\\Users\\Supervisor',
    ].join('\r\n');
    expect(parseWindowsProfileList(output)).toEqual([
      { user: 'agent.one', home: 'C:\\Users\\agent.one' },
      { user: 'Supervisor', home: 'D:\\Users\\Supervisor' },
    ]);
  });

  it('lists this Linux machine’s users including root', async () => {
    const roots = await listUserRoots('linux');
    expect(roots.find((root) => root.user === 'root')).toEqual({ user: 'root', home: '/root' });
  });
});
