import { stat, statfs, unlink } from "node:fs/promises";
import { resolve, sep } from "node:path";
import type { ComfyFile } from "./job-journal";
import type { Logger } from "./log";

export interface DiskSpace {
  free_bytes: number;
  total_bytes: number;
}

/**
 * One ComfyUI's `input/`, `output/` and `temp/` folders on this host (from `--comfy-dir`). ComfyUI has
 * no endpoint to delete a file, so the agent removes what it put there and what its runs produced by
 * exact path, and only those: every path is resolved inside its folder, and a name that would land
 * outside it is refused.
 */
export class ComfyFolders {
  constructor(
    readonly baseDir: string,
    private readonly log: Logger,
  ) {}

  /** Removes these files; one already gone is fine, one that cannot be removed is logged. */
  async remove(files: ComfyFile[]): Promise<void> {
    for (const file of files) {
      const path = this.pathOf(file);
      if (!path) {
        this.log.warn("not removing a file outside ComfyUI's folders", { file });
        continue;
      }
      await unlink(path).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") this.log.warn("could not remove a file", { path, error: error.message });
      });
    }
  }

  /** A file's path on this host and its size; undefined when it is not a file there. */
  async localFile(file: ComfyFile): Promise<{ path: string; size: number } | undefined> {
    const path = this.pathOf(file);
    const info = path ? await stat(path).catch(() => undefined) : undefined;
    return path && info?.isFile() ? { path, size: info.size } : undefined;
  }

  /** Free and total bytes of the file system ComfyUI's folders are on. */
  async diskSpace(): Promise<DiskSpace | undefined> {
    try {
      const stats = await statfs(this.baseDir);
      return { free_bytes: stats.bavail * stats.bsize, total_bytes: stats.blocks * stats.bsize };
    } catch (error) {
      this.log.debug("could not read disk space", { dir: this.baseDir, error: String(error) });
      return undefined;
    }
  }

  private pathOf(file: ComfyFile): string | undefined {
    const folder = resolve(this.baseDir, file.type);
    const path = resolve(folder, file.subfolder, file.filename);
    return path.startsWith(`${folder}${sep}`) ? path : undefined;
  }
}
