import { createHash } from "node:crypto";
import { posix } from "node:path";

export type FolderType = "input" | "output" | "temp";

/** Where the simulated ComfyUI "lives"; only ever shown in messages, as the real one would show its paths. */
export const COMFY_ROOT = "/srv/comfy/ComfyUI";

/**
 * ComfyUI's input, output and temp folders, kept in memory under virtual absolute paths. It outlives a
 * simulated crash and restart, as files on disk would.
 */
export class FileStore {
  private readonly files = new Map<string, Buffer>();

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
    return this.files.get(path);
  }

  write(path: string, bytes: Buffer): void {
    this.files.set(path, bytes);
  }

  /** The names of the files directly in a folder (absolute path), sorted. */
  list(folderPath: string): string[] {
    const prefix = `${folderPath.replace(/\/+$/, "")}/`;
    const names: string[] = [];
    for (const path of this.files.keys()) {
      const rest = path.startsWith(prefix) ? path.slice(prefix.length) : "";
      if (rest && !rest.includes("/")) names.push(rest);
    }
    return names.sort();
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
