import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAudit } from '../../../collector/audit/repository.js';
import type { CollectorConfig } from '../../../collector/config.js';
import { ADMIN_TOKEN, type RunningCollector, startCollector } from '../../helpers/collector.js';
import { engines } from '../../helpers/db.js';
import { api, userWithRole } from '../auth/helpers.js';

describe.each(engines)('audit log on %s', (engine) => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(engine, { loginRateLimitPerMinute: 1000 } as Partial<CollectorConfig>);
  }, 180_000);
  afterAll(async () => c?.close());

  it('refuses UPDATE, DELETE and TRUNCATE in the database itself', async () => {
    await recordAudit(
      c.testDb.db,
      { userId: null, username: 'test' },
      { action: 'test.entry', targetType: 'test', targetId: 't1' },
    );
    await expect(
      c.testDb.db.query(`UPDATE audit_log SET action = 'forged' WHERE action = 'test.entry'`),
    ).rejects.toThrow(/append-only/);
    await expect(c.testDb.db.query(`DELETE FROM audit_log WHERE action = 'test.entry'`)).rejects.toThrow(
      /append-only/,
    );
    await expect(c.testDb.db.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    const { rows } = await c.testDb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'test.entry'`,
    );
    expect(rows[0]!.n).toBe(1);
  });

  it('records a change and its audit entry in one transaction: a failed change leaves no entry', async () => {
    await expect(
      c.testDb.db.transaction(async (tx) => {
        await recordAudit(
          tx,
          { userId: null, username: 'test' },
          { action: 'test.rolled_back', targetType: 'test' },
        );
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const { rows } = await c.testDb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'test.rolled_back'`,
    );
    expect(rows[0]!.n).toBe(0);
  });

  it('serves the log to admins only, newest first, with filters and a cursor', async () => {
    const viewer = await userWithRole(c.url, 'viewer');
    expect((await api(c.url, 'GET', '/api/v1/audit', viewer.token)).status).toBe(403);
    for (let i = 0; i < 3; i++) await userWithRole(c.url, 'analyst');
    const creations = await api(c.url, 'GET', '/api/v1/audit?action=user.create&limit=2');
    expect(creations.status).toBe(200);
    expect(creations.json.entries).toHaveLength(2);
    expect(creations.json.entries[0].actorName).toBe('admin');
    expect(creations.json.entries[0].after.role).toBe('analyst');
    expect(creations.json.entries[0].ip).toBe('127.0.0.1');
    const next = await api(
      c.url,
      'GET',
      `/api/v1/audit?action=user.create&limit=2&cursor=${creations.json.nextCursor}`,
    );
    expect(next.json.entries).toHaveLength(2);
    const ids = [...creations.json.entries, ...next.json.entries].map((e: { id: string }) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(4);
    const bad = await api(c.url, 'GET', '/api/v1/audit?cursor=abc');
    expect(bad.json.error.code).toBe('bad_cursor');
    const logins = await api(c.url, 'GET', `/api/v1/audit?action=auth.login&actor=${viewer.id}`);
    expect(logins.json.entries).toHaveLength(1);
  });
  it('pages through more than 100 entries newest first, by number not text, with no gaps or repeats', async () => {
    // 250 entries: their ids cross the 99 → 100 and 999 → 1000-style digit boundaries a text sort breaks.
    await c.testDb.db.transaction(async (tx) => {
      for (let i = 0; i < 250; i++) {
        await recordAudit(
          tx,
          { userId: null, username: 'pager' },
          { action: 'test.paging', targetType: 'test', targetId: String(i) },
        );
      }
    });
    const expected = (
      await c.testDb.db.query<{ id: string }>(
        `SELECT id::text AS id FROM audit_log WHERE action = 'test.paging' ORDER BY audit_log.id DESC`,
      )
    ).rows.map((r) => r.id);
    expect(expected).toHaveLength(250);

    const viaApi: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await api(
        c.url,
        'GET',
        `/api/v1/audit?action=test.paging&limit=100${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      viaApi.push(...page.json.entries.map((e: { id: string }) => e.id));
      cursor = page.json.nextCursor;
    } while (cursor);
    expect(viaApi).toEqual(expected);
    // Target ids were written 0…249, so newest first reads 249…0.
    const viaConsole: string[] = [];
    let path: string | undefined = '/console/audit?action=test.paging';
    while (path) {
      const res = await fetch(`${c.url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(200);
      const html = await res.text();
      viaConsole.push(...[...html.matchAll(/>test (\d+)</g)].map((m) => m[1]!));
      path = html
        .match(/href="(\/console\/audit\?[^"]*before=\d+[^"]*)">Older entries/)?.[1]
        ?.replace(/&amp;/g, '&');
    }
    expect(viaConsole).toEqual(Array.from({ length: 250 }, (_, i) => String(249 - i)));
  });
});
