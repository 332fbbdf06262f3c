import { unlink } from "node:fs/promises";
import type { ModelFile, ModelsRemovedMessage } from "../../../src/protocol/v1";
import { modelFilePath } from "./model-paths";

/** One ComfyUI models directory of this host and the files its ComfyUI lists there. */
export interface ModelsDirectory {
  dir: string;
  files: readonly ModelFile[];
}

export interface RemovalContext {
  directories: ModelsDirectory[];
  /** Names a running job's graph uses: never deleted. */
  inUse: Set<string>;
  lastUsedAt(name: string): number | undefined;
}

type Outcome = Pick<ModelsRemovedMessage, "removed" | "kept">;

/** Deletes one model file from every models directory that has it (unless a running job uses it). */
export async function deleteModelFile(ctx: RemovalContext, folder: string, name: string): Promise<Outcome> {
  const outcome: Outcome = { removed: [], kept: [] };
  for (const { dir, files } of ctx.directories) {
    const file = files.find((f) => f.folder === folder && f.name === name);
    if (file) await removeOne(ctx, dir, file, outcome);
  }
  return outcome;
}

/**
 * Deletes the least recently used model files of each models directory until the files ComfyUI lists
 * there take at most `budgetBytes`. A file never named by a job counts as used when it was written.
 */
export async function cleanupToBudget(ctx: RemovalContext, budgetBytes: number): Promise<Outcome> {
  const outcome: Outcome = { removed: [], kept: [] };
  for (const { dir, files } of ctx.directories) {
    const weights = files.filter((f) => f.folder !== "configs" && f.size_bytes !== undefined);
    let total = weights.reduce((sum, f) => sum + (f.size_bytes ?? 0), 0);
    const oldestFirst = [...weights].sort((a, b) => lastUse(ctx, a) - lastUse(ctx, b));
    for (const file of oldestFirst) {
      if (total <= budgetBytes) break;
      if (await removeOne(ctx, dir, file, outcome)) total -= file.size_bytes ?? 0;
    }
  }
  return outcome;
}

const lastUse = (ctx: RemovalContext, file: ModelFile) =>
  Math.max(ctx.lastUsedAt(file.name) ?? 0, file.modified_at ?? 0);

async function removeOne(ctx: RemovalContext, dir: string, file: ModelFile, outcome: Outcome) {
  const { folder, name } = file;
  const path = modelFilePath(dir, folder, name);
  if (!path) {
    outcome.kept.push({ folder, name, reason: "outside the models folder" });
    return false;
  }
  if (ctx.inUse.has(name)) {
    outcome.kept.push({ folder, name, reason: "a running job uses it" });
    return false;
  }
  try {
    await unlink(path);
    outcome.removed.push({ folder, name, size_bytes: file.size_bytes ?? 0 });
    return true;
  } catch (error) {
    outcome.kept.push({ folder, name, reason: `could not delete it: ${(error as Error).message}` });
    return false;
  }
}
