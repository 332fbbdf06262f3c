import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ModelFile } from "../../../src/protocol/v1";
import { graphStrings } from "../../src/models/model-usage";
import { cleanupToBudget, deleteModelFile, type RemovalContext } from "../../src/models/removal";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A ComfyUI root with `models/<folder>/<name>` files of the given sizes and modification times. */
function modelsWith(files: { folder: string; name: string; size: number; modified: number }[]) {
  const root = mkdtempSync(join(tmpdir(), "comfy-"));
  dirs.push(root);
  const dir = join(root, "models");
  const listed: ModelFile[] = files.map(({ folder, name, size, modified }) => {
    mkdirSync(join(dir, folder), { recursive: true });
    writeFileSync(join(dir, folder, name), Buffer.alloc(size));
    return { folder, name, size_bytes: size, modified_at: modified };
  });
  return { root, dir, listed };
}

const context = (dir: string, files: ModelFile[], extra: Partial<RemovalContext> = {}): RemovalContext => ({
  directories: [{ dir, files }],
  inUse: new Set(),
  lastUsedAt: () => undefined,
  ...extra,
});

describe("model file removal", () => {
  it("deletes one model file and keeps one a running job uses", async () => {
    const { dir, listed } = modelsWith([
      { folder: "checkpoints", name: "a.safetensors", size: 10, modified: 1 },
      { folder: "loras", name: "busy.safetensors", size: 10, modified: 1 },
    ]);
    const inUse = graphStrings({
      "1": { class_type: "LoraLoader", inputs: { lora_name: "busy.safetensors" } },
    });
    const ctx = context(dir, listed, { inUse });
    expect(await deleteModelFile(ctx, "checkpoints", "a.safetensors")).toEqual({
      removed: [{ folder: "checkpoints", name: "a.safetensors", size_bytes: 10 }],
      kept: [],
    });
    expect(existsSync(join(dir, "checkpoints", "a.safetensors"))).toBe(false);
    expect(await deleteModelFile(ctx, "loras", "busy.safetensors")).toEqual({
      removed: [],
      kept: [{ folder: "loras", name: "busy.safetensors", reason: "a running job uses it" }],
    });
    expect(existsSync(join(dir, "loras", "busy.safetensors"))).toBe(true);
  });

  it("never deletes outside the models folder, whatever the listed name says", async () => {
    const { root, dir, listed } = modelsWith([
      { folder: "checkpoints", name: "a.safetensors", size: 1, modified: 1 },
    ]);
    writeFileSync(join(root, "precious.txt"), "keep me");
    const forged = [...listed, { folder: "checkpoints", name: "../../precious.txt", size_bytes: 7 }];
    const outcome = await deleteModelFile(context(dir, forged), "checkpoints", "../../precious.txt");
    expect(outcome).toEqual({
      removed: [],
      kept: [{ folder: "checkpoints", name: "../../precious.txt", reason: "outside the models folder" }],
    });
    expect(existsSync(join(root, "precious.txt"))).toBe(true);
  });

  it("removes the least recently used files until the folder fits the budget", async () => {
    const { dir, listed } = modelsWith([
      { folder: "checkpoints", name: "old.safetensors", size: 100, modified: 1000 },
      { folder: "checkpoints", name: "used-lately.safetensors", size: 100, modified: 500 },
      { folder: "loras", name: "newer.safetensors", size: 100, modified: 2000 },
      { folder: "loras", name: "oldest-but-busy.safetensors", size: 100, modified: 10 },
    ]);
    const lastUsed: Record<string, number> = { "used-lately.safetensors": 9000 };
    const ctx = context(dir, listed, {
      inUse: new Set(["oldest-but-busy.safetensors"]),
      lastUsedAt: (name) => lastUsed[name],
    });
    const outcome = await cleanupToBudget(ctx, 200);
    // 400 bytes over a 200-byte budget; the busy file stays, so the two least recently used others go.
    expect(outcome.removed.map((f) => f.name)).toEqual(["old.safetensors", "newer.safetensors"]);
    expect(outcome.kept).toEqual([
      { folder: "loras", name: "oldest-but-busy.safetensors", reason: "a running job uses it" },
    ]);
    expect(existsSync(join(dir, "checkpoints", "old.safetensors"))).toBe(false);
    expect(existsSync(join(dir, "checkpoints", "used-lately.safetensors"))).toBe(true);
  });
});
