// sha256 of executables, cached by device+inode+size+mtime so each binary is hashed once however
// many processes run it. Files are read through one reused buffer, one file at a time: a stream
// allocates a fresh 64 KiB chunk per read, and hashing a 100 MB browser that way left the agent's
// allocator several MB larger for good (bench:agent).
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';

const MAX_CACHE = 4096;

export class ExecutableHasher {
  private readonly cache = new Map<string, Promise<string | undefined>>();
  private readonly buffer = Buffer.allocUnsafe(256 * 1024);
  /** Hashes run one after another: they share `buffer`. */
  private queue: Promise<unknown> = Promise.resolve();

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
      const hashed = this.queue.then(() => hashFile(path, this.buffer));
      this.queue = hashed.catch(() => undefined);
      pending = hashed.catch(() => undefined);
      if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, pending);
    }
    return pending;
  }
}

async function hashFile(path: string, buffer: Buffer): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'r');
  try {
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}
