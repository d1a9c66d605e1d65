import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readVisitsAfter } from '../../../agent/platform/browsers/history.js';
import type { Sensor, SensorContext, SensorHealth } from '../../../agent/sensors/sensor.js';
import { createWebSensor } from '../../../agent/sensors/web.js';
import type { EventData, EventType } from '../../../shared/events.js';
import { defaultPolicy, type Policy } from '../../../shared/protocol.js';
import {
  launchChromium,
  type PageServer,
  requireBrowser,
  runFirefox,
  startHttpProxyServer,
  startHttpsServer,
} from '../platform/browsers/real-browsers.js';

interface Harness {
  ctx: SensorContext;
  visits: EventData<'web.visit'>[];
  health: SensorHealth[];
}

function harness(stateDir: string, policy: Policy): Harness {
  const visits: EventData<'web.visit'>[] = [];
  const health: SensorHealth[] = [];
  const ctx: SensorContext = {
    emit<T extends EventType>(type: T, data: EventData<T>) {
      if (type !== 'web.visit') throw new Error(`unexpected event ${type}`);
      visits.push(data as EventData<'web.visit'>);
    },
    log: pino({ level: 'silent' }),
    stateDir,
    policy: () => policy,
    setHealth: (state) => health.push(state),
  };
  return { ctx, visits, health };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isoTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const sensors: Sensor[] = [];
afterEach(async () => {
  for (const sensor of sensors.splice(0)) await sensor.stop();
});

function startSensor(sensor: Sensor, ctx: SensorContext): Promise<void> {
  sensors.push(sensor);
  return sensor.start(ctx);
}

describe('web sensor without browsers', () => {
  it('reports an unreadable history database as degraded health and keeps running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-web-'));
    try {
      const history = join(dir, 'home', '.config', 'google-chrome', 'Default', 'History');
      await mkdir(join(history, '..'), { recursive: true });
      await writeFile(history, 'this is not a database');
      const { ctx, visits, health } = harness(dir, defaultPolicy);
      await startSensor(createWebSensor({ roots: [{ user: 'alice', home: join(dir, 'home') }] }), ctx);
      expect(visits).toEqual([]);
      expect(health.at(-1)?.state).toBe('degraded');
      expect(health.at(-1)?.reason).toContain(history);
      await sensors.pop()!.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a malformed cursor file with a clear error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-web-'));
    try {
      await writeFile(join(dir, 'web-cursors.json'), '{"version": 1, "cursors": {"/x": -4}}');
      const { ctx } = harness(dir, defaultPolicy);
      await expect(startSensor(createWebSensor({ roots: [] }), ctx)).rejects.toMatchObject({
        code: 'CURSOR_FILE_INVALID',
      });
      await sensors.pop()!.stop();
      // Bad input changes nothing: the file is left as it was.
      expect(await readFile(join(dir, 'web-cursors.json'), 'utf8')).toBe(
        '{"version": 1, "cursors": {"/x": -4}}',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const chromium = requireBrowser('chromium');

describe.skipIf(!chromium)('web sensor on real headless Chromium history', () => {
  let dir: string;
  let server: PageServer;
  const hosts = [
    'www.facebook.com',
    'mail.google.com',
    'www.dropbox.com',
    'intranet.example-corp.com',
    'web.telegram.org',
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-web-chromium-'));
    server = await startHttpsServer();
  });

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports exactly the new monitored visits, not old history nor allowed hosts', async () => {
    const home = join(dir, 'home');
    const userDataDir = join(home, '.config', 'chromium');
    const historyPath = join(userDataDir, 'Default', 'History');
    const stateDir = join(dir, 'state');
    await mkdir(stateDir);

    // History from before the agent was installed.
    const first = await launchChromium(chromium!, userDataDir, server, hosts);
    try {
      await first.open(['https://www.facebook.com/old-visit']);
    } finally {
      await first.close();
    }

    const policy: Policy = {
      ...defaultPolicy,
      web: { ...defaultPolicy.web, allowedDomains: ['telegram.org'] },
      privacyLevel: 'standard',
    };
    const { ctx, visits, health } = harness(stateDir, policy);
    const roots = [{ user: 'alice', home }];
    await startSensor(createWebSensor({ roots, debounceMs: 200 }), ctx);
    await settle(1000);
    expect(visits).toEqual([]);
    const cursors = JSON.parse(await readFile(join(stateDir, 'web-cursors.json'), 'utf8'));
    expect(cursors.cursors[historyPath]).toBe(1);

    const before = Date.now();
    const second = await launchChromium(chromium!, userDataDir, server, hosts);
    try {
      await second.open(['https://mail.google.com/mail/u/0/?secret=1']);
      await second.open(['https://www.dropbox.com/home/private-folder?preview=salary.xlsx']);
      await second.open(['https://intranet.example-corp.com/wiki']);
      await second.open(['https://web.telegram.org/k/']);
    } finally {
      await second.close();
    }

    // The sensor learns of the change from the file watch alone.
    await waitFor('two web.visit events', () => visits.length >= 2);
    await settle(1500);
    // Chromium may record a page twice (seen on a busy CI machine); each recorded visit is reported.
    const reported = visits.map(({ visitTime, ...rest }) => rest);
    expect(reported.filter((visit, i) => i === 0 || visit.host !== reported[i - 1]!.host)).toEqual([
      {
        browser: 'Chromium',
        profile: 'Default',
        user: 'alice',
        host: 'mail.google.com',
        category: 'webmail',
      },
      {
        browser: 'Chromium',
        profile: 'Default',
        user: 'alice',
        host: 'www.dropbox.com',
        category: 'personal_cloud',
      },
    ]);
    for (const visit of visits) {
      expect(visit.visitTime).toMatch(isoTime);
      expect(Date.parse(visit.visitTime)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(visit.visitTime)).toBeLessThanOrEqual(Date.now());
    }
    expect(health.every((state) => state.state === 'ok')).toBe(true);

    // A restart with the stored cursors reports nothing twice.
    await sensors.pop()!.stop();
    const restarted = harness(stateDir, policy);
    await startSensor(createWebSensor({ roots, debounceMs: 200 }), restarted.ctx);
    await settle(1500);
    expect(restarted.visits).toEqual([]);

    // A profile that appears while running is read, but history older than the sensor's start is not reported.
    const rescanning = harness(stateDir, policy);
    const sensor = createWebSensor({ roots, debounceMs: 200, rescanIntervalMs: 0 });
    await startSensor(sensor, rescanning.ctx);
    const newProfile = join(userDataDir, 'Profile 1', 'History');
    await mkdir(join(newProfile, '..'));
    await copyFile(historyPath, newProfile);
    await sensor.scan!();
    const cursorOf = async (path: string) =>
      JSON.parse(await readFile(join(stateDir, 'web-cursors.json'), 'utf8')).cursors[path] as
        | number
        | undefined;
    const lastId = (await readVisitsAfter('chromium', historyPath, 0)).cursor;
    await waitFor('the new profile to be read', () => rescanning.health.length > 0);
    await expect.poll(() => cursorOf(newProfile), { timeout: 10_000 }).toBe(lastId);
    expect(await cursorOf(historyPath)).toBe(lastId);
    expect(rescanning.visits).toEqual([]);
  }, 120_000);
});

const firefox = requireBrowser('firefox-esr');

describe.skipIf(!firefox)('web sensor on real headless Firefox ESR history', () => {
  let dir: string;
  let server: PageServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-web-firefox-'));
    server = await startHttpProxyServer();
  });

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports visits while Firefox runs, with full URLs only at privacy level full', async () => {
    const home = join(dir, 'home');
    const profileDir = join(home, '.mozilla', 'firefox', 'k3x9.default-release');
    const placesPath = join(profileDir, 'places.sqlite');
    const stateDir = join(dir, 'state');
    await mkdir(stateDir);

    const oldUrl = 'http://mail.google.com/mail/u/0/#old';
    await runFirefox(firefox!, profileDir, server, [oldUrl], async () => {
      const batch = await readVisitsAfter('firefox', placesPath, 0).catch(() => ({ visits: [] }));
      return batch.visits.length >= 1;
    });

    const policy: Policy = {
      ...defaultPolicy,
      web: { categories: ['webmail', 'personal_cloud'], allowedDomains: [] },
      privacyLevel: 'full',
    };
    const { ctx, visits, health } = harness(stateDir, policy);
    await startSensor(createWebSensor({ roots: [{ user: 'bob', home }], debounceMs: 200 }), ctx);
    await settle(500);
    expect(visits).toEqual([]);

    const urls = [
      'http://mail.google.com/mail/u/0/?s=1',
      'http://www.dropbox.com/home',
      'http://www.facebook.com/feed',
      'http://intranet.example-corp.com/',
    ];
    // Firefox is still running (and holding places.sqlite) when the sensor reports.
    await runFirefox(firefox!, profileDir, server, urls, async () => visits.length >= 2);
    await settle(1500);
    expect(visits.map(({ visitTime, ...rest }) => rest).sort((a, b) => a.host.localeCompare(b.host))).toEqual(
      [
        {
          browser: 'Firefox',
          profile: 'k3x9.default-release',
          user: 'bob',
          host: 'mail.google.com',
          category: 'webmail',
          url: 'http://mail.google.com/mail/u/0/?s=1',
        },
        {
          browser: 'Firefox',
          profile: 'k3x9.default-release',
          user: 'bob',
          host: 'www.dropbox.com',
          category: 'personal_cloud',
          url: 'http://www.dropbox.com/home',
        },
      ],
    );
    for (const visit of visits) expect(visit.visitTime).toMatch(isoTime);
    expect(health.every((state) => state.state === 'ok')).toBe(true);
  }, 180_000);
});
