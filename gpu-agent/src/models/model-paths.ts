import { resolve, sep } from "node:path";

/** Folder (under ComfyUI's models directory) where downloads are written before they are verified. */
export const PARTIAL_DIR = ".comfy-edge-downloads";

/**
 * The path of a model file inside `modelsDir/folder`, or undefined when the folder or name would lead
 * anywhere else (`..`, an absolute name, a folder that is not one plain segment).
 */
export function modelFilePath(modelsDir: string, folder: string, name: string): string | undefined {
  if (!/^[a-z0-9_]{1,64}$/.test(folder)) return undefined;
  const base = resolve(modelsDir, folder);
  const path = resolve(base, name);
  return path.startsWith(`${base}${sep}`) && !name.includes("\\") ? path : undefined;
}
