import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { type RunningAgent, startAgent } from "./support/agent";
import { call, type RunView, waitForStatus } from "./support/api";
import { type E2EUser, sharedWorker } from "./support/worker";

const worker = sharedWorker();
const sims: ComfySimulator[] = [];
const agents: RunningAgent[] = [];
let user: E2EUser;

/** A machine whose agent runs beside a simulated ComfyUI holding these (weight-free) model files on disk. */
async function machineWith(models: Record<string, string[]>) {
  const machine = await call<{ id: string; token: string }>(worker, user, "POST", "/api/machine/custom", {
    name: `routing-${sims.length}`,
  });
  // ComfyUI's folders on disk, which the agent cleans: the same graph runs three times on each machine.
  const dir = await mkdtemp(path.join(tmpdir(), "comfyui-"));
  const sim = await startComfySimulator({ stepMs: 5, models, dir });
  sims.push(sim);
  const agent = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url, comfyDir: dir });
  agents.push(agent);
  await agent.connected();
  return { id: machine.id, sim };
}

/** Checkpoint → VAE decode of an empty latent → SaveImage: the simulator loads the named file. */
const checkpointGraph = (ckpt: string) => ({
  "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckpt } },
  "2": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
  "3": { class_type: "VAEDecode", inputs: { samples: ["2", 0], vae: ["1", 2] } },
  "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: "routed" } },
});

const execute = (ckpt: string) =>
  fetch(`${worker.url}/api/workflows/execute`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ workflow: checkpointGraph(ckpt) }),
  });

beforeAll(async () => {
  user = await worker.createUser("model-routing");
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  await Promise.all(sims.map((sim) => sim.close()));
});

describe("runs naming model files across two real agents", () => {
  it("land on the machine that has the file, and are refused by name when none has it", async () => {
    const alpha = await machineWith({ checkpoints: ["alpha.safetensors"], vae: ["shared-vae.safetensors"] });
    const beta = await machineWith({ checkpoints: ["beta.safetensors"], vae: ["shared-vae.safetensors"] });
    // Routing needs both inventories in the control plane.
    await expect
      .poll(
        async () => {
          const { models } = await call<{ models: { name: string }[] }>(worker, user, "GET", "/api/models");
          return models.map((m) => m.name).sort();
        },
        { timeout: 30_000, interval: 200 },
      )
      .toEqual(["alpha.safetensors", "beta.safetensors", "shared-vae.safetensors"]);

    const expected: [string, string][] = [];
    for (let round = 0; round < 3; round++) {
      for (const [ckpt, machine] of [
        ["beta.safetensors", beta.id],
        ["alpha.safetensors", alpha.id],
      ] as const) {
        const res = await execute(ckpt);
        expect(res.status).toBe(200);
        expected.push([((await res.json()) as { execution_id: string }).execution_id, machine]);
      }
    }
    // All six queued at once: each still lands where its checkpoint is, and succeeds there.
    for (const [runId, machine] of expected) {
      const run = await waitForStatus(worker, user, runId, ["success", "failed"], 60_000);
      expect(run.status, JSON.stringify(run.error)).toBe("success");
      const view = await call<RunView & { machine_id: string }>(worker, user, "GET", `/api/run/${runId}`);
      expect(view.machine_id).toBe(machine);
    }

    const refused = await execute("gamma.safetensors");
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as {
      error: string;
      message: string;
      details: { code: string; value: unknown }[];
    };
    expect(body.error).toBe("validation_error");
    expect(body.message).toContain("checkpoints/gamma.safetensors");
    expect(body.details).toEqual([
      expect.objectContaining({
        code: "MODEL_NOT_FOUND",
        value: { folder: "checkpoints", name: "gamma.safetensors" },
      }),
    ]);

    // Load: a warm-up run of the checkpoint's loader, on the one machine that has it, run by its simulator.
    const loaded = await call<{ runs: { machine_id: string; run_id: string }[] }>(
      worker,
      user,
      "POST",
      "/models/beta.safetensors/load?model_type=checkpoint",
    );
    expect(loaded.runs).toEqual([{ machine_id: beta.id, run_id: expect.any(String) }]);
    const warmUp = await waitForStatus(worker, user, loaded.runs[0]?.run_id as string, ["success", "failed"]);
    expect(warmUp.status, JSON.stringify(warmUp.error)).toBe("success");
  });
});
