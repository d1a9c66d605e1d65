import { readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumTimeToDate,
  firefoxTimeToDate,
  HistoryReadError,
  readMaxVisitId,
  readVisitsAfter,
  safariTimeToDate,
  withPrivateCopy,
} from '../../../../agent/platform/browsers/history.js';
import {
  launchChromium,
  type PageServer,
  requireBrowser,
  runFirefox,
  startHttpProxyServer,
  startHttpsServer,
} from './real-browsers.js';

describe('time bases', () => {
  it('converts Chromium microseconds since 1601', () => {
    expect(chromiumTimeToDate(0n).toISOString()).toBe('1601-01-01T00:00:00.000Z');
    expect(chromiumTimeToDate(11_644_473_600_000_000n).toISOString()).toBe('1970-01-01T00:00:00.000Z');
    // Beyond 2^53: bigint keeps the milliseconds exact.
    expect(chromiumTimeToDate(13_440_330_981_274_726n).toISOString()).toBe('2026-11-28T09:16:21.274Z');
  });

  it('converts Firefox microseconds since 1970', () => {
    expect(firefoxTimeToDate(0).toISOString()).toBe('1970-01-01T00:00:00.000Z');
    expect(firefoxTimeToDate(1_795_857_400_877_099n).toISOString()).toBe('2026-11-28T09:16:40.877Z');
  });

  it('converts Safari seconds since 2001', () => {
    expect(safariTimeToDate(0).toISOString()).toBe('2001-01-01T00:00:00.000Z');
    expect(safariTimeToDate(786_297_600.25).toISOString()).toBe('2025-12-01T16:00:00.250Z');
  });
});

describe('private copies', () => {
  it('reads through a copy in a 0700 dir and deletes it, also when reading fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-copy-test-'));
    const tempRoot = join(dir, 'temp');
    await mkdir(tempRoot);
    try {
      const db = join(dir, 'History');
      await writeFile(db, 'data');
      await writeFile(`${db}-journal`, 'journal');
      const seen = await withPrivateCopy(
        db,
        (copyPath) => {
          // Synchronous inspection of the copy while it exists.
          return copyPath;
        },
        tempRoot,
      );
      expect(seen.startsWith(tempRoot)).toBe(true);
      await expect(
        withPrivateCopy(
          db,
          () => {
            throw new Error('boom');
          },
          tempRoot,
        ),
      ).rejects.toThrow('boom');
      await expect(readVisitsAfter('chromium', db, 0, { tempRoot })).rejects.toBeInstanceOf(HistoryReadError);
      expect(await readdir(tempRoot)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates the copy with mode 0700 and copies the companions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-copy-test-'));
    try {
      const db = join(dir, 'places.sqlite');
      await writeFile(db, 'data');
      await writeFile(`${db}-wal`, 'wal');
      const result = await withPrivateCopy(db, (copyPath) => ({
        mode: statSync(join(copyPath, '..')).mode & 0o777,
        files: readdirSync(join(copyPath, '..')).sort(),
      }));
      expect(result).toEqual({ mode: 0o700, files: ['places.sqlite', 'places.sqlite-wal'] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing database as a HistoryReadError with its code', async () => {
    const error = await readMaxVisitId('firefox', '/nonexistent/places.sqlite').catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(HistoryReadError);
    expect((error as HistoryReadError).code).toBe('HISTORY_READ_FAILED');
  });
});

describe('Safari History.db (fixture built with the documented schema)', () => {
  it('reads visits after the cursor with their times', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vigil-safari-'));
    try {
      const dbPath = join(dir, 'History.db');
      const db = new Database(dbPath);
      db.exec(`
        CREATE TABLE history_items (id INTEGER PRIMARY KEY AUTOINCREMENT, url TEXT NOT NULL UNIQUE,
          domain_expansion TEXT NULL, visit_count INTEGER NOT NULL, daily_visit_counts BLOB NOT NULL,
          weekly_visit_counts BLOB NULL, autocomplete_triggers BLOB NULL, should_recompute_derived_visit_counts INTEGER NOT NULL,
          visit_count_score INTEGER NOT NULL);
        CREATE TABLE history_visits (id INTEGER PRIMARY KEY AUTOINCREMENT,
          history_item INTEGER NOT NULL REFERENCES history_items(id) ON DELETE CASCADE,
          visit_time REAL NOT NULL, title TEXT NULL, load_successful BOOLEAN NOT NULL DEFAULT 1,
          http_non_get BOOLEAN NOT NULL DEFAULT 0, synthesized BOOLEAN NOT NULL DEFAULT 0,
          redirect_source INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE,
          redirect_destination INTEGER NULL UNIQUE REFERENCES history_visits(id) ON DELETE CASCADE,
          origin INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0, attributes INTEGER NOT NULL DEFAULT 0,
          score INTEGER NOT NULL DEFAULT 0);
      `);
      const item = db.prepare(
        `INSERT INTO history_items (url, visit_count, daily_visit_counts, should_recompute_derived_visit_counts, visit_count_score)
         VALUES (?, 1, x'', 0, 0)`,
      );
      item.run('https://www.facebook.com/');
      item.run('https://mail.google.com/mail/u/0/');
      const visit = db.prepare(
        'INSERT INTO history_visits (history_item, visit_time, title) VALUES (?, ?, ?)',
      );
      visit.run(1, 786_297_600.25, 'Facebook');
      visit.run(2, 786_297_660.5, 'Inbox');
      db.close();

      expect(await readMaxVisitId('safari', dbPath)).toBe(2);
      const batch = await readVisitsAfter('safari', dbPath, 1);
      expect(batch).toEqual({
        visits: [
          {
            id: 2,
            url: 'https://mail.google.com/mail/u/0/',
            visitTime: new Date('2025-12-01T16:01:00.500Z'),
          },
        ],
        cursor: 2,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const chromium = requireBrowser('chromium');

describe.skipIf(!chromium)('Chromium History written by real headless Chromium', () => {
  let dir: string;
  let server: PageServer;
  let historyPath: string;
  // What the browser itself wrote, read without the reader under test. Chromium may record a page
  // twice (a busy CI machine saw a second visit to the last page), so expectations come from here.
  let written: { id: number; url: string }[];
  const pages = [
    'https://mail.google.com/mail/u/0/?secret=1',
    'https://www.dropbox.com/home',
    'https://intranet.example-corp.com/wiki',
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-chromium-'));
    server = await startHttpsServer();
    const userDataDir = join(dir, 'user-data');
    const hosts = ['mail.google.com', 'www.dropbox.com', 'intranet.example-corp.com'];
    const browser = await launchChromium(chromium!, userDataDir, server, hosts);
    try {
      await browser.open(['https://mail.google.com/mail/u/0/?secret=1']);
      await browser.open(['https://www.dropbox.com/home']);
      await browser.open(['https://intranet.example-corp.com/wiki']);
    } finally {
      await browser.close();
    }
    historyPath = join(userDataDir, 'Default', 'History');
    const db = new Database(historyPath, { readonly: true });
    written = db
      .prepare('SELECT v.id AS id, u.url AS url FROM visits v JOIN urls u ON u.id = v.url ORDER BY v.id')
      .all() as { id: number; url: string }[];
    db.close();
  }, 90_000);

  const distinctInOrder = (urls: string[]) => urls.filter((url, index) => urls.indexOf(url) === index);

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads every visit in order with its URL and a recent time', async () => {
    const started = Date.now();
    const batch = await readVisitsAfter('chromium', historyPath, 0);
    expect(distinctInOrder(written.map((row) => row.url))).toEqual(pages);
    expect(batch.visits.map(({ id, url }) => ({ id, url }))).toEqual(written);
    for (const visit of batch.visits) {
      expect(Math.abs(visit.visitTime.getTime() - started)).toBeLessThan(5 * 60_000);
    }
    expect(batch.cursor).toBe(batch.visits.at(-1)!.id);
    expect(await readMaxVisitId('chromium', historyPath)).toBe(batch.cursor);
  });

  it('returns only visits after the cursor, and nothing at the end', async () => {
    const all = await readVisitsAfter('chromium', historyPath, 0);
    const first = all.visits[0]!;
    const rest = await readVisitsAfter('chromium', historyPath, first.id);
    expect(rest.visits.map((visit) => visit.id)).toEqual(all.visits.slice(1).map((visit) => visit.id));
    expect((await readVisitsAfter('chromium', historyPath, all.cursor)).visits).toEqual([]);
  });

  it('pages with a limit without losing visits', async () => {
    const paged: { id: number; url: string }[] = [];
    let cursor = 0;
    for (let round = 0; round < written.length + 1; round++) {
      const page = await readVisitsAfter('chromium', historyPath, cursor, { limit: 2 });
      expect(page.visits.length).toBeLessThanOrEqual(2);
      if (page.visits.length === 0) break;
      paged.push(...page.visits.map(({ id, url }) => ({ id, url })));
      cursor = page.cursor;
    }
    expect(paged).toEqual(written);
  });

  it('skips visits synced from other devices but moves the cursor past them', async () => {
    const copyDir = await mkdtemp(join(dir, 'synced-'));
    const copy = join(copyDir, 'History');
    await copyFile(historyPath, copy);
    const db = new Database(copy);
    const last = db.prepare('SELECT MAX(id) AS id FROM visits').get() as { id: number };
    // Every visit to the last page came from another device.
    db.prepare(
      "UPDATE visits SET originator_cache_guid = 'other-device' WHERE url = (SELECT url FROM visits WHERE id = ?)",
    ).run(last.id);
    db.close();
    const batch = await readVisitsAfter('chromium', copy, 0);
    expect(batch.visits.map((visit) => visit.url)).toEqual(
      written.filter((row) => row.url !== pages[2]).map((row) => row.url),
    );
    expect(distinctInOrder(batch.visits.map((visit) => visit.url))).toEqual(pages.slice(0, 2));
    expect(batch.cursor).toBe(last.id);
  });

  it('starts over when the history was cleared and ids restarted below the cursor', async () => {
    const batch = await readVisitsAfter('chromium', historyPath, 1_000_000);
    expect(batch.visits.map(({ id, url }) => ({ id, url }))).toEqual(written);
  });

  it('still reads a database held in an exclusive write transaction by another connection', async () => {
    const copyDir = await mkdtemp(join(dir, 'locked-'));
    const locked = join(copyDir, 'History');
    await copyFile(historyPath, locked);
    const writer = new Database(locked);
    writer.pragma('locking_mode = EXCLUSIVE');
    writer.pragma('cache_size = 1');
    writer.exec('BEGIN EXCLUSIVE');
    // A change large enough to spill to the file: the journal on disk is then "hot".
    writer.exec("CREATE TABLE filler (x); UPDATE urls SET title = 'uncommitted'");
    const insert = writer.prepare('INSERT INTO filler VALUES (?)');
    for (let i = 0; i < 2000; i++) insert.run('x'.repeat(500));
    writer.exec('DELETE FROM visits WHERE id = (SELECT MAX(id) FROM visits)');
    try {
      // The uncommitted change reached the file: a plain copy needs its journal rolled back.
      expect(statSync(`${locked}-journal`).size).toBeGreaterThan(0);
      const plainDir = await mkdtemp(join(dir, 'plain-'));
      await copyFile(locked, join(plainDir, 'History'));
      await copyFile(`${locked}-journal`, join(plainDir, 'History-journal'));
      const plain = new Database(join(plainDir, 'History'), { readonly: true });
      expect(() => plain.prepare('SELECT COUNT(*) FROM visits').get()).toThrow(/readonly/);
      plain.close();
      expect(() =>
        new Database(locked, { readonly: true, timeout: 0 }).prepare('SELECT COUNT(*) FROM visits').get(),
      ).toThrow(/locked|busy/i);
      const batch = await readVisitsAfter('chromium', locked, 0);
      // The committed state: every visit, the one deleted in the open transaction included.
      expect(batch.visits.map(({ id, url }) => ({ id, url }))).toEqual(written);
    } finally {
      writer.exec('ROLLBACK');
      writer.close();
    }
  });
});

const firefox = requireBrowser('firefox-esr');

describe.skipIf(!firefox)('Firefox places.sqlite written by real headless Firefox ESR', () => {
  let dir: string;
  let server: PageServer;
  let placesPath: string;
  const urls = [
    'http://mail.google.com/mail/u/0/?s=1',
    'http://www.dropbox.com/home',
    'http://intranet.example-corp.com/',
  ];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-firefox-'));
    server = await startHttpProxyServer();
    const profileDir = join(dir, 'profile');
    placesPath = join(profileDir, 'places.sqlite');
    // Waiting on our own reader while Firefox runs also proves the live, locked database reads.
    await runFirefox(firefox!, profileDir, server, urls, async () => {
      const batch = await readVisitsAfter('firefox', placesPath, 0).catch(() => ({ visits: [] }));
      return batch.visits.length >= urls.length;
    });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads every visit with its URL and a recent time', async () => {
    const started = Date.now();
    const batch = await readVisitsAfter('firefox', placesPath, 0);
    expect(batch.visits.map((visit) => visit.url).sort()).toEqual([...urls].sort());
    for (const visit of batch.visits) {
      expect(Math.abs(visit.visitTime.getTime() - started)).toBeLessThan(5 * 60_000);
    }
    expect(await readMaxVisitId('firefox', placesPath)).toBe(batch.cursor);
    expect((await readVisitsAfter('firefox', placesPath, batch.cursor)).visits).toEqual([]);
  });
});
