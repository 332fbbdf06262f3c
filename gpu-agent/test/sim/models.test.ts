import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../sim/simulator";
import { getJson, postJson } from "./helpers/sim-client";
import { loadTrace } from "./helpers/traces";

interface ModelsTrace {
  gets: { path: string; status: number; body: unknown }[];
  posts: { path: string; request: Record<string, unknown>; status: number; body: string }[];
  prompt_with_missing_model: { request: Record<string, unknown>; status: number; body: unknown };
}

const trace = loadTrace<ModelsTrace>("models_and_free");
/** The recording's two placeholder files. */
const RECORDED_MODELS = { checkpoints: ["tiny-test.safetensors"], loras: ["tiny-lora.safetensors"] };

let sim: ComfySimulator;
const dirs: string[] = [];
afterEach(async () => {
  await sim.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function raw(path: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const response = await fetch(`${sim.url}${path}`, init);
  return { status: response.status, body: await response.text() };
}

describe("model folders (models_and_free.json)", () => {
  it("GET /models and /models/{folder} answer like the recorded server", async () => {
    sim = await startComfySimulator({ stepMs: 0, models: RECORDED_MODELS });
    for (const recorded of trace.gets.filter((get) => get.path.startsWith("/models"))) {
      const reply = await raw(recorded.path);
      expect(reply.status, recorded.path).toBe(recorded.status);
      if (recorded.status === 200) expect(JSON.parse(reply.body), recorded.path).toEqual(recorded.body);
      else expect(reply.body, recorded.path).toBe(recorded.body);
    }
  });

  it("POST /free answers a bare 200 and is counted; a body that is not JSON is a 500", async () => {
    sim = await startComfySimulator({ stepMs: 0 });
    for (const recorded of trace.posts) {
      const reply = await raw(recorded.path, { method: "POST", body: JSON.stringify(recorded.request) });
      expect(reply).toEqual({ status: recorded.status, body: recorded.body });
    }
    expect(sim.counters.frees).toEqual([
      { unload_models: true, free_memory: undefined },
      { unload_models: undefined, free_memory: true },
      { unload_models: undefined, free_memory: undefined },
    ]);
    expect((await raw("/free", { method: "POST", body: "nope" })).status).toBe(500);
    expect(sim.counters.frees).toHaveLength(3);
  });

  it("keeps models as real files in dir/models and lists files added later", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sim-models-"));
    dirs.push(dir);
    sim = await startComfySimulator({ stepMs: 0, dir, models: { vae: ["a.safetensors"] } });
    expect(readdirSync(join(dir, "models", "vae"))).toEqual(["a.safetensors"]);
    sim.addModels({ vae: ["b.pt", "notes.txt"] });
    expect(await getJson(sim, "/models/vae")).toEqual(["a.safetensors", "b.pt"]);
  });
});

describe("model loaders", () => {
  it("reject a checkpoint that is not in models/checkpoints exactly like ComfyUI", async () => {
    sim = await startComfySimulator({ stepMs: 0, models: RECORDED_MODELS });
    const recorded = trace.prompt_with_missing_model;
    const reply = await postJson(sim, "/prompt", recorded.request);
    expect(reply).toEqual({ status: recorded.status, json: recorded.body });
  });

  it("list the files present in their object_info, and accept them in a prompt", async () => {
    sim = await startComfySimulator({
      stepMs: 0,
      models: { checkpoints: ["c.safetensors"], loras: ["l.pt"] },
    });
    const info = (await getJson(sim, "/object_info")) as Record<
      string,
      { input: { required: Record<string, unknown[]> } }
    >;
    expect(info.CheckpointLoaderSimple?.input.required.ckpt_name?.[0]).toEqual(["c.safetensors"]);
    expect(info.LoraLoader?.input.required.lora_name?.[0]).toEqual(["l.pt"]);
    expect(info.VAELoader?.input.required.vae_name?.[0]).toEqual(["pixel_space"]);
    const prompt = {
      "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "c.safetensors" } },
      "2": {
        class_type: "LoraLoader",
        inputs: { model: ["1", 0], clip: ["1", 1], lora_name: "l.pt", strength_model: 1, strength_clip: 1 },
      },
      "3": { class_type: "VAELoader", inputs: { vae_name: "missing.safetensors" } },
      "4": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
      "5": { class_type: "VAEDecode", inputs: { samples: ["4", 0], vae: ["3", 0] } },
      "6": { class_type: "SaveImage", inputs: { images: ["5", 0], filename_prefix: "x" } },
    };
    const rejected = await postJson(sim, "/prompt", { prompt });
    expect(rejected.status).toBe(400);
    const errors = rejected.json.node_errors as Record<string, { errors: { details: string }[] }>;
    expect(Object.keys(errors)).toEqual(["3"]);
    expect(errors["3"]?.errors[0]?.details).toBe("vae_name: 'missing.safetensors' not in ['pixel_space']");
    sim.addModels({ vae: ["missing.safetensors"] });
    expect((await postJson(sim, "/prompt", { prompt })).status).toBe(200);
  });
});
