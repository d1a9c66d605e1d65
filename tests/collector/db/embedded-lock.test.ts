// Two processes on one embedded database lose data: the second open of a data directory is refused
// with a coded error (after saying it waits, in case the holder crashed), and the directory opens
// again once the holder let go.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbedded } from '../../../collector/db/db.js';

describe('embedded database lock', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-lock-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a second holder of the data directory and lets the next one in after the first closes', async () => {
    const first = await openEmbedded(dataDir);
    const waits: string[] = [];
    await expect(openEmbedded(dataDir, { onLockWait: (m) => waits.push(m) })).rejects.toMatchObject({
      code: 'data_dir_locked',
      message: expect.stringContaining(dataDir),
    });
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatch(/locked by another vigil-collector; waiting/);
    // The refused attempt changed nothing: the holder still works.
    expect((await first.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    await first.close();
    const next = await openEmbedded(dataDir, { onLockWait: (m) => waits.push(m) });
    expect(waits).toHaveLength(1);
    await next.close();
  }, 60_000);
});
