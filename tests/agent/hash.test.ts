// Executable hashing: one reused buffer and one file at a time, so concurrent requests must still
// get each file's own digest.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExecutableHasher } from '../../agent/hash.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('ExecutableHasher', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-hash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hashes files larger than its buffer, several at once, each correctly', async () => {
    const hasher = new ExecutableHasher();
    const files = [0, 1, 600_000, 256 * 1024, 3_000_001].map((size, i) => {
      const path = join(dir, `bin-${i}`);
      const data = randomBytes(size);
      writeFileSync(path, data);
      return { path, digest: sha256(data) };
    });
    const digests = await Promise.all(files.map((file) => hasher.sha256(file.path)));
    expect(digests).toEqual(files.map((file) => file.digest));
  });

  it('follows /proc/<pid>/exe to the real binary', async () => {
    if (process.platform !== 'linux') return;
    const digest = await new ExecutableHasher().sha256('/proc/self/exe');
    expect(digest).toBe(sha256(readFileSync(process.execPath)));
  });

  it('answers undefined for what is not a readable file, and keeps going', async () => {
    const hasher = new ExecutableHasher();
    expect(await hasher.sha256(join(dir, 'missing'))).toBeUndefined();
    expect(await hasher.sha256(dir)).toBeUndefined();
    const path = join(dir, 'after');
    writeFileSync(path, 'x');
    expect(await hasher.sha256(path)).toBe(sha256(Buffer.from('x')));
  });
});
