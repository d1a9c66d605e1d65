// Host inventory: systeminformation's answer, gathered in a child process; Node's own facts when
// that child fails.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hostInventory } from '../../agent/inventory.js';
import { gatherInventory } from '../../agent/inventory-probe.js';

describe('host inventory', () => {
  it('comes from systeminformation through the probe child', async () => {
    // The built probe: `npm test` builds first, and the child runs plain JavaScript.
    const probe = fileURLToPath(new URL('../../dist/agent/inventory-probe.js', import.meta.url));
    const [fromChild, inProcess] = await Promise.all([hostInventory(undefined, probe), gatherInventory()]);
    expect(fromChild).toEqual(inProcess);
    expect(fromChild.os.platform).toBe(process.platform);
    expect(fromChild.hostname).toBe(hostname());
    // Filled from the machine (dmi / machine-id), not the fallback's empty string.
    expect(fromChild.systemUuid).not.toBe('');
  }, 60_000);

  it('falls back to what Node knows when the probe fails or answers nonsense', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-probe-'));
    try {
      const nonsense = join(dir, 'nonsense.mjs');
      writeFileSync(nonsense, 'process.stdout.write(JSON.stringify({ hostname: 42 }))');
      const crashing = join(dir, 'crash.mjs');
      writeFileSync(crashing, 'process.exit(3)');
      const warnings: unknown[] = [];
      const log = { warn: (...args: unknown[]) => warnings.push(args) } as never;
      for (const probe of [nonsense, crashing, join(dir, 'missing.mjs')]) {
        const inventory = await hostInventory(log, probe);
        expect(inventory).toMatchObject({ hostname: hostname(), systemUuid: '' });
        expect(inventory.os.platform).toBe(process.platform);
      }
      expect(warnings).toHaveLength(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
