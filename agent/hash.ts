// sha256 of executables, cached by device+inode+size+mtime so each binary is hashed once however
// many processes run it. Hashing streams the file, so a large binary does not sit in memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

const MAX_CACHE = 4096;

export class ExecutableHasher {
  private readonly cache = new Map<string, Promise<string | undefined>>();

  /** `path` may be a /proc/<pid>/exe link: stat and read follow it to the real file. */
  async sha256(path: string): Promise<string | undefined> {
    let key: string;
    try {
      const s = await stat(path, { bigint: true });
      if (!s.isFile()) return undefined;
      key = `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}`;
    } catch {
      return undefined;
    }
    let pending = this.cache.get(key);
    if (!pending) {
      pending = hashFile(path).catch(() => undefined);
      if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, pending);
    }
    return pending;
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}
