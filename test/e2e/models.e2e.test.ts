import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { type RunningAgent, startAgent } from "./support/agent";
import { type E2EUser, sharedWorker } from "./support/worker";

type Model = {
  name: string;
  type: string;
  hash: string | null;
  file_size_mb: number | null;
  machines: { machine_id: string; hash: string | null; file_size_mb: number | null }[];
};

const worker = sharedWorker();
const sims: ComfySimulator[] = [];
const agents: RunningAgent[] = [];
const dirs: string[] = [];
let user: E2EUser;

async function get<T>(token: string, route: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${worker.url}${route}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

/** A machine whose agent runs beside a simulated ComfyUI holding these model files on disk. */
async function machineWith(models: Record<string, string[]>) {
  const res = await fetch(`${worker.url}/api/machine/custom`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: `models-${sims.length}` }),
  });
  const machine = (await res.json()) as { id: string; token: string };
  const dir = await mkdtemp(path.join(tmpdir(), "comfyui-models-"));
  dirs.push(dir);
  const sim = await startComfySimulator({ stepMs: 5, dir, models });
  sims.push(sim);
  const agent = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url, comfyDir: dir });
  agents.push(agent);
  await agent.connected();
  return { id: machine.id, dir };
}

const sha256Of = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");

beforeAll(async () => {
  user = await worker.createUser("models");
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  await Promise.all(sims.map((sim) => sim.close()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("models across two real agents", () => {
  it("lists which machine has which file, hashed by the agents, and hides them from another tenant", async () => {
    const shared = "shared.safetensors";
    const first = await machineWith({ checkpoints: ["only-first.safetensors", shared], loras: ["style.pt"] });
    const second = await machineWith({ checkpoints: ["only-second.safetensors", shared] });

    // The agents hash in the background; the list is complete once every file has its hash.
    let models: Model[] = [];
    await expect
      .poll(
        async () => {
          models = (await get<{ models: Model[] }>(user.apiKey, "/api/models")).body.models;
          return models.length === 4 && models.every((m) => m.machines.every((on) => on.hash !== null));
        },
        { timeout: 30_000, interval: 200 },
      )
      .toBe(true);

    const where = Object.fromEntries(
      models.map((m) => [m.name, m.machines.map((on) => on.machine_id).sort()]),
    );
    expect(where).toEqual({
      "only-first.safetensors": [first.id],
      "only-second.safetensors": [second.id],
      [shared]: [first.id, second.id].sort(),
      "style.pt": [first.id],
    });
    const sharedHash = await sha256Of(path.join(first.dir, "models", "checkpoints", shared));
    expect(models.find((m) => m.name === shared)).toMatchObject({ type: "checkpoint", hash: sharedHash });

    const detail = await get<Model>(user.apiKey, "/models/only-second.safetensors");
    expect(detail.status).toBe(200);
    expect(detail.body.machines).toEqual([
      expect.objectContaining({
        machine_id: second.id,
        hash: await sha256Of(path.join(second.dir, "models", "checkpoints", "only-second.safetensors")),
      }),
    ]);
    const onSecond = await get<{ models: Model[] }>(user.apiKey, `/models/?machine_id=${second.id}`);
    expect(onSecond.body.models.map((m) => m.name).sort()).toEqual(["only-second.safetensors", shared]);
    const loras = await get<{ models: Model[] }>(user.apiKey, "/api/models?type=lora");
    expect(loras.body.models.map((m) => m.name)).toEqual(["style.pt"]);

    const other = await worker.createUser("models-other");
    expect((await get<{ models: Model[] }>(other.apiKey, "/api/models")).body.models).toEqual([]);
    expect((await get(other.apiKey, "/api/models/only-first.safetensors")).status).toBe(404);
  });
});
