import { describe, expect, it } from "vitest";
import { type ModelFile, modelsDigestInput } from "../../src/protocol/v1";
import { api } from "../helpers/http";
import { createMachine } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type MachineEntry = {
  machine_id: string;
  instance_id: string;
  file_size_mb: number | null;
  hash: string | null;
};
type Model = {
  name: string;
  type: string;
  is_loaded: null;
  file_size_mb: number | null;
  file_path: string;
  hash: string | null;
  metadata: { folder: string };
  machines: MachineEntry[];
};
type ModelList = { models: Model[] };

async function sha256Hex(text: string) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const SD15_HASH = "a".repeat(64);
const sd15: ModelFile = {
  folder: "checkpoints",
  name: "v1-5.safetensors",
  size_bytes: 4 * 2 ** 30,
  modified_at: 1_764_600_000_000,
  sha256: SD15_HASH,
};
const lora: ModelFile = { folder: "loras", name: "detail.safetensors", size_bytes: 2 ** 20 };
const embedding: ModelFile = { folder: "embeddings", name: "easy.pt" };

/** A machine whose agent reports these model files once the Dispatcher asks for their hash. */
async function reportModels(user: TestUser, models: ModelFile[]) {
  const machine = await createMachine(user);
  const { agent } = await TestAgent.open(machine.token);
  if (!agent) throw new Error("no agent socket");
  const hash = await sha256Hex(modelsDigestInput(models));
  const hello = (a: TestAgent) =>
    a.send({
      type: "hello",
      protocol: 1,
      agent: { version: "test" },
      instances: [{ id: "comfy-0", comfy_url: "http://127.0.0.1:8188", available: true, models_hash: hash }],
    });
  hello(agent);
  await agent.next("welcome");
  expect(await agent.next("models_request")).toEqual({
    type: "models_request",
    instance_id: "comfy-0",
    hash,
  });
  agent.send({ type: "models", instance_id: "comfy-0", hash, models });
  return { agent, machine, hash, hello };
}

const list = (user: TestUser, query = "") => api<ModelList>(`/api/models${query}`, { token: user.apiKey });

async function listWhen(user: TestUser, ready: (body: ModelList) => boolean, query = "") {
  await expect.poll(async () => ready((await list(user, query)).body)).toBe(true);
  return (await list(user, query)).body;
}

describe("models across the fleet", () => {
  it("lists what each machine reported, in seed 004's shape, with the machines that have each file", async () => {
    const user = await createUser();
    const first = await reportModels(user, [sd15, lora]);
    const second = await reportModels(user, [{ ...sd15, modified_at: 1_764_700_000_000 }, embedding]);
    const body = await listWhen(user, (b) => b.models.length === 3);
    const byName = Object.fromEntries(body.models.map((m) => [m.name, m]));
    expect(byName["v1-5.safetensors"]).toMatchObject({
      type: "checkpoint",
      is_loaded: null,
      is_downloading: false,
      file_size_mb: 4096,
      file_path: "models/checkpoints/v1-5.safetensors",
      hash: SD15_HASH,
      metadata: { folder: "checkpoints" },
    });
    expect(byName["v1-5.safetensors"]?.machines.map((m) => m.machine_id).sort()).toEqual(
      [first.machine.id, second.machine.id].sort(),
    );
    expect(byName["detail.safetensors"]).toMatchObject({ type: "lora", hash: null, file_size_mb: 1 });
    expect(byName["detail.safetensors"]?.machines.map((m) => m.machine_id)).toEqual([first.machine.id]);
    expect(byName["easy.pt"]).toMatchObject({ type: "embedding", file_size_mb: null, hash: null });

    const onSecond = await list(user, `?machine_id=${second.machine.id}`);
    expect(onSecond.body.models.map((m) => m.name).sort()).toEqual(["easy.pt", "v1-5.safetensors"]);
    const loras = await list(user, "?type=lora");
    expect(loras.body.models.map((m) => m.name)).toEqual(["detail.safetensors"]);
    const seedFilter = await api<ModelList>("/models/?model_type=checkpoint", { token: user.apiKey });
    expect(seedFilter.body.models.map((m) => m.name)).toEqual(["v1-5.safetensors"]);

    const detail = await api<Model>("/models/v1-5.safetensors", { token: user.apiKey });
    expect(detail.status).toBe(200);
    expect(detail.body.machines).toHaveLength(2);
    expect((await api("/api/models/missing.safetensors", { token: user.apiKey })).status).toBe(404);
    first.agent.close();
    second.agent.close();
  });

  it("replaces an inventory only when its hash changes, and refuses a list that does not match its hash", async () => {
    const user = await createUser();
    const { agent, machine, hello } = await reportModels(user, [sd15]);
    await listWhen(user, (b) => b.models.length === 1);
    agent.close();

    const again = await TestAgent.open(machine.token);
    if (!again.agent) throw new Error("no agent socket");
    hello(again.agent);
    await again.agent.next("welcome");
    const changed = [sd15, lora];
    const changedHash = await sha256Hex(modelsDigestInput(changed));
    again.agent.send({ type: "heartbeat", leases: [], instances: [{ id: "comfy-0", available: true }] });
    again.agent.send({
      type: "heartbeat",
      leases: [],
      instances: [{ id: "comfy-0", available: true, models_hash: changedHash }],
    });
    // The known hash asked nothing; the new one is asked for once.
    expect(await again.agent.next("models_request")).toMatchObject({ hash: changedHash });
    expect(again.agent.all("models_request")).toHaveLength(1);
    again.agent.send({ type: "models", instance_id: "comfy-0", hash: "0".repeat(64), models: changed });
    expect((await again.agent.next("error")).message).toMatch(/does not match its hash/);
    again.agent.send({ type: "models", instance_id: "comfy-0", hash: changedHash, models: changed });
    await listWhen(user, (b) => b.models.length === 2);
    again.agent.close();
  });

  it("shows no other tenant's models, and checks its query", async () => {
    const owner = await createUser();
    const other = await createUser();
    const { agent, machine } = await reportModels(owner, [sd15]);
    await listWhen(owner, (b) => b.models.length === 1);
    expect((await list(other)).body.models).toEqual([]);
    expect((await list(other, `?machine_id=${machine.id}`)).body.models).toEqual([]);
    expect((await api("/api/models/v1-5.safetensors", { token: other.apiKey })).status).toBe(404);
    expect((await list(owner, "?type=Not%20A%20Type")).status).toBe(400);
    expect((await api("/api/models")).status).toBe(401);
    agent.close();
  });
});

describe("unload and cleanup through ComfyUI's /free", () => {
  it("asks only the machines that have the model to unload, and every connected machine to clean up", async () => {
    const user = await createUser();
    const withSd15 = await reportModels(user, [sd15]);
    const withLora = await reportModels(user, [lora]);
    await listWhen(user, (b) => b.models.length === 2);

    const unload = await api<{ model_name: string; machines: string[] }>("/models/v1-5.safetensors/unload", {
      method: "POST",
      token: user.apiKey,
    });
    expect(unload.status).toBe(202);
    expect(unload.body).toMatchObject({ model_name: "v1-5.safetensors", machines: [withSd15.machine.id] });
    expect(await withSd15.agent.next("free_memory")).toEqual({
      type: "free_memory",
      instance_ids: ["comfy-0"],
      free_memory: false,
    });

    const cleanup = await api<{ machines: string[]; models_unloaded: string[] }>(
      "/models/cleanup?max_age_hours=2",
      { method: "POST", token: user.apiKey },
    );
    expect(cleanup.status).toBe(202);
    expect(cleanup.body.machines.sort()).toEqual([withSd15.machine.id, withLora.machine.id].sort());
    expect(await withLora.agent.next("free_memory")).toEqual({ type: "free_memory", free_memory: true });
    expect(withLora.agent.all("free_memory")).toHaveLength(1);
    expect(await withSd15.agent.next("free_memory", 1)).toEqual({ type: "free_memory", free_memory: true });

    const other = await createUser();
    const foreign = await api("/api/models/v1-5.safetensors/unload", { method: "POST", token: other.apiKey });
    expect(foreign.status).toBe(404);
    const otherCleanup = await api<{ machines: string[] }>("/api/models/cleanup", {
      method: "POST",
      token: other.apiKey,
    });
    expect(otherCleanup.body.machines).toEqual([]);
    const tooOld = await api("/api/models/cleanup?max_age_hours=99", { method: "POST", token: user.apiKey });
    expect(tooOld.status).toBe(400);
    withSd15.agent.close();
    withLora.agent.close();
  });
});
