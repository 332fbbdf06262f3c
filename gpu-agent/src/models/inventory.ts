import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { resolve, sep } from "node:path";
import { type ModelFile, modelsDigestInput } from "../../../src/protocol/v1";
import type { Logger } from "../log";
import type { FileHasher } from "./file-hasher";
import type { ModelHashCache } from "./hash-cache";

/** What the agent needs from ComfyUI for models: its folders, the files in each, and `POST /free`. */
export interface ModelLister {
  modelFolders(signal: AbortSignal): Promise<string[]>;
  modelFiles(folder: string, signal: AbortSignal): Promise<string[]>;
  free(request: { unload_models: boolean; free_memory: boolean }, signal: AbortSignal): Promise<void>;
}

export interface ModelInventoryOptions {
  lister: ModelLister;
  /** ComfyUI's `models/` directory on this host; without it only names are reported. */
  modelsDir: string | undefined;
  cache: ModelHashCache;
  hasher: FileHasher;
  log: Logger;
  /** Called when the inventory (and so its hash) changed. */
  onChange(): void;
}

interface Located {
  file: ModelFile;
  path: string | undefined;
}

/**
 * One ComfyUI's model files as ComfyUI lists them, with size, modification time and SHA-256 where the
 * files are on this host. A refresh publishes what it knows at once, and files not hashed yet are
 * queued to the host's hasher; once they are all hashed the inventory is published again.
 */
export class ModelInventory {
  current: { hash: string; models: ModelFile[] } | undefined;
  private listed: { folder: string; name: string }[] = [];
  private readonly hashing = new Set<string>();
  private settled: Promise<void> = Promise.resolve();
  private settle: (() => void) | undefined;

  constructor(private readonly options: ModelInventoryOptions) {}

  /** Lists ComfyUI's model folders again and publishes the result if it changed. */
  async refresh(signal: AbortSignal): Promise<void> {
    const { lister } = this.options;
    const listed: { folder: string; name: string }[] = [];
    for (const folder of await lister.modelFolders(signal)) {
      for (const name of await lister.modelFiles(folder, signal)) listed.push({ folder, name });
    }
    this.listed = listed;
    const located = await this.describe();
    this.publish(located.map(({ file }) => file));
    for (const { file, path } of located) {
      if (path && file.size_bytes !== undefined && !file.sha256) this.queueHash(path, file);
    }
  }

  /** Resolves once no file of this inventory waits to be hashed. */
  idle(): Promise<void> {
    return this.settled;
  }

  private async describe(): Promise<Located[]> {
    return Promise.all(this.listed.map(({ folder, name }) => this.locate(folder, name)));
  }

  private async locate(folder: string, name: string): Promise<Located> {
    const path = this.pathOf(folder, name);
    if (!path) return { file: { folder, name }, path };
    try {
      const stats = await stat(path);
      const file: ModelFile = {
        folder,
        name,
        size_bytes: stats.size,
        modified_at: Math.floor(stats.mtimeMs),
      };
      const sha256 = this.options.cache.get(path, stats.size, stats.mtimeMs);
      return { file: sha256 ? { ...file, sha256 } : file, path };
    } catch {
      // Listed by ComfyUI but elsewhere (extra_model_paths.yaml): the name is all we know.
      return { file: { folder, name }, path: undefined };
    }
  }

  private pathOf(folder: string, name: string): string | undefined {
    const { modelsDir } = this.options;
    if (!modelsDir) return undefined;
    const path = resolve(modelsDir, folder, name);
    return path.startsWith(`${resolve(modelsDir)}${sep}`) ? path : undefined;
  }

  private queueHash(path: string, file: ModelFile) {
    if (this.hashing.has(path)) return;
    if (this.hashing.size === 0) this.settled = new Promise((done) => (this.settle = done));
    this.hashing.add(path);
    void this.hashOne(path, file).finally(() => {
      this.hashing.delete(path);
      if (this.hashing.size > 0) return;
      // Its own: a file queued meanwhile starts a new wait, which its own hash ends.
      const settle = this.settle;
      void this.describe()
        .then((located) => this.publish(located.map((entry) => entry.file)))
        .finally(() => settle?.());
    });
  }

  private async hashOne(path: string, file: ModelFile) {
    try {
      // A refresh that read the cache just before another's hash of this file landed queues it again.
      const before = await stat(path);
      if (this.options.cache.get(path, before.size, before.mtimeMs)) return;
      const sha256 = await this.options.hasher.hash(path);
      const after = await stat(path);
      // Changed while it was read: leave it for the next refresh.
      if (after.size !== file.size_bytes || Math.floor(after.mtimeMs) !== file.modified_at) return;
      await this.options.cache.set(path, { size: after.size, mtime_ms: after.mtimeMs, sha256 });
    } catch (error) {
      this.options.log.warn("could not hash a model file", { path, error: String(error) });
    }
  }

  private publish(models: ModelFile[]) {
    const hash = createHash("sha256").update(modelsDigestInput(models)).digest("hex");
    if (hash === this.current?.hash) return;
    this.current = { hash, models };
    this.options.onChange();
  }
}
