import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as z from "zod/mini";
import type { Logger } from "../log";

const CachedHash = z.object({
  size: z.int().check(z.gte(0)),
  mtime_ms: z.number(),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
});
type CachedHash = z.infer<typeof CachedHash>;
const CacheFile = z.record(z.string(), CachedHash);

/**
 * SHA-256s of model files, kept in the state directory and keyed by path, size and modification time,
 * so a restart does not read a hundred gigabytes again; a file that changed is hashed anew.
 */
export class ModelHashCache {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly file: string,
    private readonly entries: Map<string, CachedHash>,
    private readonly log: Logger,
  ) {}

  static async open(stateDir: string, log: Logger): Promise<ModelHashCache> {
    const file = join(stateDir, "model-hashes.json");
    const entries = new Map<string, CachedHash>();
    try {
      const parsed = CacheFile.safeParse(JSON.parse(await readFile(file, "utf8")));
      if (parsed.success) for (const [path, entry] of Object.entries(parsed.data)) entries.set(path, entry);
      else log.warn("model hash cache is unreadable; model files will be hashed again", { file });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        log.warn("model hash cache is unreadable; model files will be hashed again", { file });
    }
    return new ModelHashCache(file, entries, log);
  }

  /** The cached SHA-256 of the file, if it was hashed at this size and modification time. */
  get(path: string, size: number, mtimeMs: number): string | undefined {
    const entry = this.entries.get(path);
    return entry && entry.size === size && entry.mtime_ms === mtimeMs ? entry.sha256 : undefined;
  }

  /** Records a hash and writes the cache (to a temporary file, renamed into place). */
  set(path: string, entry: CachedHash): Promise<void> {
    this.entries.set(path, entry);
    this.writing = this.writing.then(() => this.persist());
    return this.writing;
  }

  private async persist(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    try {
      await mkdir(join(this.file, ".."), { recursive: true });
      await writeFile(tmp, JSON.stringify(Object.fromEntries(this.entries)));
      await rename(tmp, this.file);
    } catch (error) {
      this.log.warn("could not write the model hash cache", { error: String(error) });
    }
  }
}
