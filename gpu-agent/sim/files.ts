import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";

export type FolderType = "input" | "output" | "temp";

/** Where the simulated ComfyUI "lives"; only ever shown in messages, as the real one would show its paths. */
export const COMFY_ROOT = "/srv/comfy/ComfyUI";

/**
 * ComfyUI's input, output and temp folders under virtual absolute paths (what messages show): in memory,
 * or, given a directory, as real files in its `input/`, `output/` and `temp/`, so that a test can see
 * what is left on disk and an agent told that directory can remove files. Either way it outlives a
 * simulated crash and restart, as files on disk would.
 */
export class FileStore {
  private readonly files = new Map<string, Buffer>();

  /** `dir`: keep the files in this real directory instead of in memory. */
  constructor(private readonly dir?: string) {}

  folder(type: FolderType): string {
    return `${COMFY_ROOT}/${type}`;
  }

  /** The absolute path of `subfolder/name` in a folder, or undefined if it would land outside it. */
  resolve(type: FolderType, subfolder: string, name: string): string | undefined {
    const base = this.folder(type);
    const path = posix.resolve(base, subfolder, name);
    return path.startsWith(`${base}/`) ? path : undefined;
  }

  read(path: string): Buffer | undefined {
    if (!this.dir) return this.files.get(path);
    try {
      return readFileSync(this.onDisk(path));
    } catch {
      return undefined;
    }
  }

  write(path: string, bytes: Buffer): void {
    if (!this.dir) {
      this.files.set(path, bytes);
      return;
    }
    const real = this.onDisk(path);
    mkdirSync(posix.dirname(real), { recursive: true });
    writeFileSync(real, bytes);
  }

  /** The names of the files directly in a folder (absolute path), sorted. */
  list(folderPath: string): string[] {
    if (this.dir) {
      try {
        const entries = readdirSync(this.onDisk(folderPath), { withFileTypes: true });
        return entries
          .filter((entry) => entry.isFile())
          .map((entry) => entry.name)
          .sort();
      } catch {
        return [];
      }
    }
    const prefix = `${folderPath.replace(/\/+$/, "")}/`;
    const names: string[] = [];
    for (const path of this.files.keys()) {
      const rest = path.startsWith(prefix) ? path.slice(prefix.length) : "";
      if (rest && !rest.includes("/")) names.push(rest);
    }
    return names.sort();
  }

  /** The real path of a virtual one, inside `dir`. */
  private onDisk(path: string): string {
    return join(this.dir as string, path.slice(COMFY_ROOT.length));
  }
}

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Splits ComfyUI's annotated names, `photo.png [output]`, into the folder and the plain name; names
 * without an annotation are in the input folder. Mirrors `folder_paths.annotated_filepath`.
 */
export function annotatedPath(name: string): { type: FolderType | undefined; name: string } {
  for (const type of ["input", "output", "temp"] as const) {
    if (name.endsWith(` [${type}]`)) return { type, name: name.slice(0, -(type.length + 3)) };
  }
  return { type: undefined, name };
}

/** Python's `os.path.dirname` after `normpath`: "" for a bare name, where Node's would say ".". */
export function pyDirname(path: string): string {
  const index = path.lastIndexOf("/");
  return index < 0 ? "" : path.slice(0, index) || "/";
}

/** Python's `os.path.normpath` for the relative, slash-separated paths ComfyUI is sent. */
export function pyNormpath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 ? normal.replace(/\/+$/, "") : normal;
}
