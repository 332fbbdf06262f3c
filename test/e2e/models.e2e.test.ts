import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { type ModelSource, startModelSource } from "../../gpu-agent/test/agent/helpers/model-source";
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
const sources: ModelSource[] = [];
let user: E2EUser;

async function get<T>(token: string, route: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${worker.url}${route}`, { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as T };
}

/** A machine whose agent runs beside a simulated ComfyUI holding these model files on disk. */
async function machineWith(models: Record<string, string[]>, owner = user) {
  const res = await fetch(`${worker.url}/api/machine/custom`, {
    method: "POST",
    headers: { Authorization: `Bearer ${owner.apiKey}`, "Content-Type": "application/json" },
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

async function post<T>(token: string, route: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${worker.url}${route}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as T };
}

const sha256Of = async (file: string) =>
  createHash("sha256")
    .update(await readFile(file))
    .digest("hex");

beforeAll(async () => {
  user = await worker.createUser("models");
});

afterAll(async () => {
  await Promise.all(sources.map((source) => source.close()));
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

type DownloadProgress = {
  is_downloading: boolean;
  download_progress: number | null;
  is_available: boolean;
  downloads: { machine_id: string; status: string; sha256: string | null; error: string | null }[];
};

describe("model downloads onto real agents", () => {
  const body = randomBytes(3 * 1024 * 1024);
  const sha256 = createHash("sha256").update(body).digest("hex");
  let owner: E2EUser;
  let first: { id: string; dir: string };
  let second: { id: string; dir: string };

  beforeAll(async () => {
    owner = await worker.createUser("model-downloads");
    first = await machineWith({ checkpoints: ["base.safetensors"] }, owner);
    second = await machineWith({ checkpoints: ["other.safetensors"] }, owner);
  });

  const partials = async (dir: string) =>
    readdir(path.join(dir, "models", ".comfy-edge-downloads")).catch(() => [] as string[]);

  const progress = async (name: string) =>
    (await get<DownloadProgress>(owner.apiKey, `/models/${name}/download-progress`)).body;

  it("resumes a download cut half-way with Range and lands it, hash-verified, on the target machine only", async () => {
    const source = await startModelSource(body, { dropOnce: true });
    sources.push(source);
    const query = new URLSearchParams({
      model_type: "checkpoint",
      download_url: source.url,
      sha256,
      machine_id: first.id,
    });
    const started = await post<{ downloads: { machine_id: string }[] }>(
      owner.apiKey,
      `/api/models/fresh.safetensors/download?${query}`,
    );
    expect(started.status).toBe(202);
    expect(started.body.downloads.map((d) => d.machine_id)).toEqual([first.id]);

    await expect
      .poll(() => progress("fresh.safetensors"), { timeout: 30_000, interval: 200 })
      .toMatchObject({ is_downloading: false, is_available: true, download_progress: 1 });
    expect((await progress("fresh.safetensors")).downloads).toEqual([
      expect.objectContaining({ machine_id: first.id, status: "completed", sha256 }),
    ]);
    expect(source.ranges[0]).toBeUndefined();
    expect(source.ranges[1]).toMatch(/^bytes=[1-9]\d*-$/);
    const landed = await readFile(path.join(first.dir, "models", "checkpoints", "fresh.safetensors"));
    expect(landed.equals(body)).toBe(true);
    expect(existsSync(path.join(second.dir, "models", "checkpoints", "fresh.safetensors"))).toBe(false);
    expect(await partials(first.dir)).toEqual([]);

    // The inventory follows as for any file: on the first machine, with the hash the agent verified.
    await expect
      .poll(async () => (await get<Model>(owner.apiKey, "/api/models/fresh.safetensors")).body.machines, {
        timeout: 30_000,
        interval: 200,
      })
      .toEqual([expect.objectContaining({ machine_id: first.id, hash: sha256 })]);
  });

  it("fails a download whose SHA-256 is not the expected one, clearly, leaving no file and no temporary file", async () => {
    const source = await startModelSource(body);
    sources.push(source);
    const wrong = "0".repeat(64);
    const query = new URLSearchParams({
      model_type: "lora",
      download_url: source.url,
      sha256: wrong,
      machine_id: second.id,
    });
    expect((await post(owner.apiKey, `/api/models/wrong.safetensors/download?${query}`)).status).toBe(202);
    await expect
      .poll(async () => (await progress("wrong.safetensors")).downloads[0]?.status, {
        timeout: 30_000,
        interval: 200,
      })
      .toBe("failed");
    const failed = await progress("wrong.safetensors");
    expect(failed).toMatchObject({ is_downloading: false, is_available: false, download_progress: null });
    expect(failed.downloads[0]?.error).toBe(`SHA-256 mismatch: expected ${wrong}, got ${sha256}`);
    expect(existsSync(path.join(second.dir, "models", "loras", "wrong.safetensors"))).toBe(false);
    expect(await partials(second.dir)).toEqual([]);
  });

  it("shows another tenant none of it and refuses it our machines", async () => {
    const other = await worker.createUser("model-downloads-other");
    expect((await get(other.apiKey, "/api/models/fresh.safetensors/download-progress")).status).toBe(404);
    expect((await get<{ models: Model[] }>(other.apiKey, "/api/models")).body.models).toEqual([]);
    const query = new URLSearchParams({
      model_type: "checkpoint",
      download_url: "https://example.com/x.safetensors",
      machine_id: first.id,
    });
    const aimed = await post<{ error: string }>(other.apiKey, `/api/models/x.safetensors/download?${query}`);
    expect(aimed).toEqual({ status: 404, body: expect.objectContaining({ error: "not_found" }) });
  });
});
