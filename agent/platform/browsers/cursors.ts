// Per-database read positions, persisted so a restart neither repeats nor loses visits.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export class CursorFileError extends Error {
  readonly code = 'CURSOR_FILE_INVALID';
}

interface CursorFile {
  version: 1;
  /** History database path → last visit id handled. */
  cursors: Record<string, number>;
}

export class CursorStore {
  private readonly path: string;
  private cursors = new Map<string, number>();
  private saving: Promise<void> = Promise.resolve();

  constructor(stateDir: string, fileName = 'web-cursors.json') {
    this.path = join(stateDir, fileName);
  }

  /** Loads the file; a missing file means no cursors yet, a malformed one is an error. */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CursorFileError(`${this.path} is not JSON`);
    }
    const file = parsed as Partial<CursorFile>;
    if (file.version !== 1 || typeof file.cursors !== 'object' || file.cursors === null) {
      throw new CursorFileError(`${this.path} has an unknown format`);
    }
    const cursors = new Map<string, number>();
    for (const [dbPath, cursor] of Object.entries(file.cursors)) {
      if (!Number.isSafeInteger(cursor) || cursor < 0)
        throw new CursorFileError(`${this.path}: bad cursor for ${dbPath}`);
      cursors.set(dbPath, cursor);
    }
    this.cursors = cursors;
  }

  get(dbPath: string): number | undefined {
    return this.cursors.get(dbPath);
  }

  set(dbPath: string, cursor: number): void {
    this.cursors.set(dbPath, cursor);
  }

  /** Writes a temp file and renames it over the old one, so a crash never leaves half a file. */
  save(): Promise<void> {
    const write = async () => {
      const file: CursorFile = { version: 1, cursors: Object.fromEntries(this.cursors) };
      const temp = `${this.path}.${process.pid}.tmp`;
      await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      await rename(temp, this.path);
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }
}
