import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ModelFile, modelsDigestInput } from "../../../src/protocol/v1";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { ComfyHttp } from "../../src/comfy/http";
import { silentLogger } from "../../src/log";
import { FileHasher, JobGate } from "../../src/models/file-hasher";
import { ModelHashCache } from "../../src/models/hash-cache";
import { ModelInventory } from "../../src/models/inventory";
import { type Harness, startHarness } from "./helpers/harness";

const MODELS = { checkpoints: ["a.safetensors", "b.safetensors"], loras: ["l.safetensors"] };

/** What the agent should report for the files in `dir/models`: sizes, mtimes and SHA-256s from disk. */
function expectedModels(dir: string, models: Record<string, string[]>): ModelFile[] {
  return Object.entries(models).flatMap(([folder, names]) =>
    names.map((name) => {
      const path = join(dir, "models", folder, name);
      const stats = statSync(path);
      return {
        folder,
        name,
        size_bytes: stats.size,
        modified_at: Math.floor(stats.mtimeMs),
        sha256: createHash("sha256").update(readFileSync(path)).digest("hex"),
      };
    }),
  );
}

const digest = (models: ModelFile[]) => createHash("sha256").update(modelsDigestInput(models)).digest("hex");

describe("model hash cache", () => {
  let sim: ComfySimulator;
  const dirs: string[] = [];
  afterEach(async () => {
    await sim.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const tempDir = (prefix: string) => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };

  async function inventoryOf(comfyDir: string | undefined, stateDir: string) {
    const hasher = new FileHasher(new JobGate());
    const inventory = new ModelInventory({
      lister: new ComfyHttp({ baseUrl: sim.url }),
      modelsDir: comfyDir && join(comfyDir, "models"),
      cache: await ModelHashCache.open(stateDir, silentLogger),
      hasher,
      log: silentLogger,
      onChange: () => {},
    });
    await inventory.refresh(AbortSignal.timeout(5000));
    await inventory.idle();
    return { inventory, hasher };
  }

  it("hashes each file once; a restart reuses the hashes on disk, and only a changed file is read again", async () => {
    const comfyDir = tempDir("comfyui-");
    const stateDir = tempDir("agent-state-");
    sim = await startComfySimulator({ stepMs: 0, dir: comfyDir, models: MODELS });

    const first = await inventoryOf(comfyDir, stateDir);
    expect(first.hasher.hashed).toBe(3);
    const expected = expectedModels(comfyDir, MODELS);
    expect(first.inventory.current).toEqual({ hash: digest(expected), models: expected });

    const restarted = await inventoryOf(comfyDir, stateDir);
    expect(restarted.hasher.hashed).toBe(0);
    expect(restarted.inventory.current).toEqual(first.inventory.current);

    writeFileSync(join(comfyDir, "models", "loras", "l.safetensors"), "other bytes, other size");
    const afterChange = await inventoryOf(comfyDir, stateDir);
    expect(afterChange.hasher.hashed).toBe(1);
    expect(afterChange.inventory.current?.models).toEqual(expectedModels(comfyDir, MODELS));
  });

  it("hashes each file once for two ComfyUIs that share one models folder", async () => {
    const comfyDir = tempDir("comfyui-");
    sim = await startComfySimulator({ stepMs: 0, dir: comfyDir, models: MODELS });
    const hasher = new FileHasher(new JobGate());
    const cache = await ModelHashCache.open(tempDir("agent-state-"), silentLogger);
    const inventories = [0, 1].map(
      () =>
        new ModelInventory({
          lister: new ComfyHttp({ baseUrl: sim.url }),
          modelsDir: join(comfyDir, "models"),
          cache,
          hasher,
          log: silentLogger,
          onChange: () => {},
        }),
    );
    await Promise.all(inventories.map((inventory) => inventory.refresh(AbortSignal.timeout(5000))));
    await Promise.all(inventories.map((inventory) => inventory.idle()));
    expect(hasher.hashed).toBe(3);
    const expected = expectedModels(comfyDir, MODELS);
    for (const inventory of inventories) expect(inventory.current?.models).toEqual(expected);
  });

  it("reports names only when ComfyUI's directory is unknown", async () => {
    sim = await startComfySimulator({ stepMs: 0, models: MODELS });
    const { inventory, hasher } = await inventoryOf(undefined, tempDir("agent-state-"));
    expect(hasher.hashed).toBe(0);
    expect(inventory.current?.models).toEqual([
      { folder: "checkpoints", name: "a.safetensors" },
      { folder: "checkpoints", name: "b.safetensors" },
      { folder: "loras", name: "l.safetensors" },
    ]);
  });
});

describe("model inventory on the link", () => {
  let h: Harness;
  afterEach(() => h.close());

  /** The newest models_hash the agent announced for comfy-0. */
  const announced = () =>
    [...h.mock.all("hello"), ...h.mock.all("heartbeat")].at(-1)?.instances?.[0]?.models_hash;

  it("announces its inventory by hash, sends it when asked, and announces a new file", async () => {
    // Model folders are listed again with the host's other facts (every 100 ms here).
    h = await startHarness({ comfyDirs: true, config: { heartbeatMs: 50 }, timings: { gpuRefreshMs: 100 } });
    const comfyDir = h.config.comfyDir?.[0] as string;
    const all = {
      checkpoints: ["sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly.safetensors"],
      loras: ["detail_tweaker_lora.safetensors"],
      vae: ["sdxl_vae.safetensors"],
    };
    const expected = expectedModels(comfyDir, all);
    await h.mock.until(() => announced() === digest(expected), "the hashed inventory's hash");
    expect(h.mock.all("models")).toEqual([]);

    h.mock.send({ type: "models_request", instance_id: "comfy-0", hash: "0".repeat(64) });
    h.mock.send({ type: "models_request", instance_id: "comfy-0", hash: digest(expected) });
    const [sent] = await h.mock.until(
      () => h.mock.all("models").length > 0 && h.mock.all("models"),
      "models",
    );
    expect(h.mock.all("models")).toHaveLength(1);
    expect(sent).toEqual({
      type: "models",
      instance_id: "comfy-0",
      hash: digest(expected),
      models: expected,
    });
    expect(h.agent.modelHasher.hashed).toBe(4);

    h.sims[0]?.addModels({ vae: ["new_vae.pt"] });
    const grown = expectedModels(comfyDir, { ...all, vae: ["new_vae.pt", "sdxl_vae.safetensors"] });
    await h.mock.until(() => announced() === digest(grown), "the new file's inventory hash");
    expect(h.agent.modelHasher.hashed).toBe(5);
  });

  it("calls ComfyUI's POST /free when the control plane asks it to unload models", async () => {
    h = await startHarness({ comfyCount: 2 });
    h.mock.send({ type: "free_memory", instance_ids: ["comfy-1"], free_memory: false });
    await h.mock.until(() => h.sims[1]?.counters.frees.length === 1, "POST /free on comfy-1");
    h.mock.send({ type: "free_memory", free_memory: true });
    await h.mock.until(() => h.sims[0]?.counters.frees.length === 1, "POST /free on comfy-0");
    await h.mock.until(() => h.sims[1]?.counters.frees.length === 2, "a second POST /free on comfy-1");
    expect(h.sims[0]?.counters.frees).toEqual([{ unload_models: true, free_memory: true }]);
    expect(h.sims[1]?.counters.frees).toEqual([
      { unload_models: true, free_memory: false },
      { unload_models: true, free_memory: true },
    ]);
  });
});
