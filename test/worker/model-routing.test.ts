import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import objectInfo from "../../fixtures/comfyui-traces/object_info_full.json";
import { modelsDigestInput } from "../../src/protocol/v1";
import { createDeployment } from "../helpers/fixtures";
import { api } from "../helpers/http";
import { eventually, sha256Hex } from "../helpers/node-definitions";
import { createMachine, demoGraph } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type Refusal = {
  error: string;
  message: string;
  details: { code: string; field?: string; value?: unknown }[];
  request_id: string;
  timestamp: string;
};

/** The recorded definitions with the loaders' lists filled from these folders, as ComfyUI fills them. */
function definitionsFor(files: Record<string, string[]>) {
  const set = structuredClone(objectInfo) as Record<string, { input: { required: Record<string, unknown> } }>;
  set.CheckpointLoaderSimple!.input.required.ckpt_name = [files.checkpoints ?? [], {}];
  set.LoraLoader!.input.required.lora_name = [files.loras ?? [], {}];
  // A custom node: only its list says it loads from the loras folder. The marker makes each set new.
  set.StyleStack = { input: { required: { style: ["COMBO", { options: files.loras ?? [] }] } } };
  set[`Marker${crypto.randomUUID().replaceAll("-", "")}`] = { input: { required: {} } };
  return set;
}

/** The hello of an agent whose ComfyUIs report these definitions and inventories (by hash). */
async function helloFor(instances: Record<string, string[]>[]) {
  const reports = await Promise.all(
    instances.map(async (files, i) => {
      const definitions = definitionsFor(files);
      const models = Object.entries(files).flatMap(([folder, names]) =>
        names.map((name) => ({ folder, name })),
      );
      return {
        id: `comfy-${i}`,
        definitions,
        models,
        definitionsHash: await sha256Hex(JSON.stringify(definitions)),
        modelsHash: await sha256Hex(modelsDigestInput(models)),
      };
    }),
  );
  const hello = {
    type: "hello",
    protocol: 1,
    agent: { version: "test" },
    instances: reports.map((r) => ({
      id: r.id,
      comfy_url: "http://127.0.0.1:8188",
      available: true,
      object_info_hash: r.definitionsHash,
      models_hash: r.modelsHash,
    })),
  };
  return { hello, reports };
}

/**
 * A machine whose agent reports its definitions and model inventory (one ComfyUI per entry of
 * `instances`), once the server holds them all.
 */
async function machineWith(
  user: TestUser,
  instances: Record<string, string[]> | Record<string, string[]>[],
  pool?: string,
) {
  const machine = await createMachine(user, pool);
  const { agent } = await TestAgent.open(machine.token);
  if (!agent) throw new Error("no agent socket");
  const { hello, reports } = await helloFor(Array.isArray(instances) ? instances : [instances]);
  agent.send(hello);
  await agent.next("welcome");
  for (const [i, r] of reports.entries()) {
    await agent.next("object_info_request", i);
    agent.send({
      type: "object_info",
      instance_id: r.id,
      hash: r.definitionsHash,
      definitions: r.definitions,
    });
    await agent.next("models_request", i);
    agent.send({ type: "models", instance_id: r.id, hash: r.modelsHash, models: r.models });
  }
  for (const r of reports)
    await eventually(
      async () =>
        (await env.DB.prepare(
          `SELECT 1 FROM machine_model_sets s JOIN machine_node_definitions d USING (machine_id, instance_id)
           WHERE s.machine_id = ? AND s.instance_id = ? AND s.hash = ? AND d.hash = ?`,
        )
          .bind(machine.id, r.id, r.modelsHash, r.definitionsHash)
          .first()) ?? undefined,
      "the inventory and definitions to be stored",
    );
  return { agent, machine, hello };
}

const checkpointGraph = (ckpt: string, extra: Record<string, unknown> = {}) => ({
  "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckpt } },
  "2": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
  "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "m" } },
  ...extra,
});

const execute = (user: TestUser, workflow: unknown, pool?: string) =>
  api<{ execution_id: string } & Refusal>("/api/workflows/execute", {
    method: "POST",
    token: user.apiKey,
    json: { workflow, pool },
  });

async function executed(user: TestUser, workflow: unknown, pool?: string) {
  const res = await execute(user, workflow, pool);
  if (res.status !== 200) throw new Error(`execute: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.execution_id;
}

describe("runs that name model files", () => {
  it("go to the machine that has them, and wait for it rather than run on one that lacks them", async () => {
    const user = await createUser();
    const a = await machineWith(user, { checkpoints: ["a.safetensors", "shared.safetensors"] });
    const b = await machineWith(user, {
      checkpoints: ["b.safetensors", "shared.safetensors"],
      loras: ["style.pt"],
    });

    for (let round = 0; round < 3; round++) {
      const onB = await executed(user, checkpointGraph("b.safetensors"));
      await b.agent.complete(await b.agent.job(onB));
      const onA = await executed(user, checkpointGraph("a.safetensors"));
      await a.agent.complete(await a.agent.job(onA));
    }
    // The custom node's list is the loras folder: its file is a requirement too.
    const styled = await executed(
      user,
      checkpointGraph("shared.safetensors", {
        "4": { class_type: "StyleStack", inputs: { style: "style.pt" } },
      }),
    );
    const styledJob = await b.agent.job(styled);

    // B is busy: another run for B waits while A is idle, and a run A can take goes to A meanwhile.
    const waitsForB = await executed(user, checkpointGraph("b.safetensors"));
    const anyMachine = await executed(user, checkpointGraph("shared.safetensors"));
    await a.agent.job(anyMachine);
    expect(a.agent.all("job").map((j) => j.run_id)).not.toContain(waitsForB);
    await b.agent.complete(styledJob);
    expect((await b.agent.job(waitsForB)).run_id).toBe(waitsForB);

    expect(a.agent.all("job")).toHaveLength(4);
    expect(b.agent.all("job")).toHaveLength(5);
    a.agent.close();
    b.agent.close();
  });

  it("leave a run naming no file to the instance that could not run the others", async () => {
    const user = await createUser();
    const { agent, machine, hello } = await machineWith(user, [
      { checkpoints: ["x.safetensors"] },
      { checkpoints: ["y.safetensors"] },
    ]);
    agent.close();
    await eventually(
      async () =>
        (await env.DB.prepare("SELECT 1 FROM machines WHERE id = ? AND status = 'offline'")
          .bind(machine.id)
          .first()) ?? undefined,
      "the machine to be offline",
    );
    // Both wait for the machine; the older names no file, and comfy-0 is the only one that can run x.
    const plain = await executed(user, demoGraph);
    const needsX = await executed(user, checkpointGraph("x.safetensors"));

    const { agent: back } = await TestAgent.open(machine.token);
    if (!back) throw new Error("no agent socket");
    back.send(hello);
    const [first, second] = [await back.job(plain), await back.job(needsX)];
    expect(first.instance_id).toBe("comfy-1");
    expect(second.instance_id).toBe("comfy-0");
    back.close();
  });

  it("are refused before queueing, naming each missing file and its folder", async () => {
    const user = await createUser();
    const a = await machineWith(user, { checkpoints: ["a.safetensors"], loras: ["style.pt"] });
    const runs = await env.DB.prepare("SELECT COUNT(*) AS n FROM runs WHERE user_id = ?").bind(user.id);
    const before = (await runs.first<{ n: number }>())?.n;

    const refused = await execute(
      user,
      checkpointGraph("missing.safetensors", {
        "4": {
          class_type: "LoraLoader",
          inputs: { lora_name: "../../gone.pt", model: ["1", 0], clip: ["1", 1] },
        },
      }),
    );
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: "validation_error", request_id: expect.any(String) });
    expect(refused.body.message).toContain('not found on any machine of pool "default"');
    expect(refused.body.message).toContain("checkpoints/missing.safetensors");
    expect(refused.body.message).toContain("loras/../../gone.pt");
    expect(refused.body.details).toEqual([
      expect.objectContaining({
        code: "MODEL_NOT_FOUND",
        field: "1.inputs.ckpt_name",
        value: { folder: "checkpoints", name: "missing.safetensors" },
      }),
      expect.objectContaining({
        code: "MODEL_NOT_FOUND",
        field: "4.inputs.lora_name",
        value: { folder: "loras", name: "../../gone.pt" },
      }),
    ]);
    expect(refused.body).not.toHaveProperty("stack");
    // A file in another folder of the same name is not the file the input names.
    expect((await execute(user, checkpointGraph("style.pt"))).status).toBe(400);
    expect((await runs.first<{ n: number }>())?.n).toBe(before);
    expect(a.agent.all("job")).toEqual([]);

    // Another pool's machines do not count for this pool.
    const gpuPool = await machineWith(user, { checkpoints: ["gpu-pool-only.safetensors"] }, "gpu");
    const otherPool = await execute(user, checkpointGraph("gpu-pool-only.safetensors"));
    expect(otherPool.status).toBe(400);
    const inGpuPool = await executed(user, checkpointGraph("gpu-pool-only.safetensors"), "gpu");
    expect((await gpuPool.agent.job(inGpuPool)).run_id).toBe(inGpuPool);
    a.agent.close();
    gpuPool.agent.close();
  });

  it("are refused when the files are on different machines, since a run goes to one", async () => {
    const user = await createUser();
    const a = await machineWith(user, { checkpoints: ["a.safetensors"] });
    const b = await machineWith(user, { checkpoints: ["b.safetensors"] });
    const apart = await execute(
      user,
      checkpointGraph("a.safetensors", {
        "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "b.safetensors" } },
      }),
    );
    expect(apart.status).toBe(400);
    expect(apart.body.details.map((d) => d.code)).toEqual(["MODELS_NOT_TOGETHER", "MODELS_NOT_TOGETHER"]);
    a.agent.close();
    b.agent.close();
  });

  it("are checked with the deployment's input bound in, on the deployment's own machines", async () => {
    const user = await createUser();
    const a = await machineWith(user, { checkpoints: ["a.safetensors"] });
    const b = await machineWith(user, { checkpoints: ["b.safetensors"] });
    const deployment = await createDeployment(user, {
      graph: checkpointGraph(["9", 0] as unknown as string, {
        "9": {
          class_type: "ComfyUIDeployExternalText",
          inputs: { input_id: "checkpoint", default_value: "a.safetensors" },
        },
      }),
    });
    const queue = (token: string, inputs: Record<string, unknown>, id = deployment.id) =>
      api<{ run_id: string } & Refusal>("/api/run/deployment/queue", {
        method: "POST",
        token,
        json: { deployment_id: id, inputs },
      });

    const byDefault = await queue(user.apiKey, {});
    expect(byDefault.status).toBe(200);
    await a.agent.job(byDefault.body.run_id);
    const chosen = await queue(user.apiKey, { checkpoint: "b.safetensors" });
    expect((await b.agent.job(chosen.body.run_id)).run_id).toBe(chosen.body.run_id);
    const missing = await queue(user.apiKey, { checkpoint: "c.safetensors" });
    expect(missing.status).toBe(400);
    expect(missing.body.details[0]).toMatchObject({
      value: { folder: "checkpoints", name: "c.safetensors" },
    });

    // Another tenant: this deployment is not theirs, and their own pool's inventory is what counts.
    const other = await createUser();
    expect((await queue(other.apiKey, {})).status).toBe(404);
    const theirs = await machineWith(other, { checkpoints: ["theirs.safetensors"] });
    const refused = await execute(other, checkpointGraph("a.safetensors"));
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain("checkpoints/a.safetensors");
    expect((await execute(user, checkpointGraph("theirs.safetensors"))).status).toBe(400);
    a.agent.close();
    b.agent.close();
    theirs.agent.close();
  });

  it("of a deployment pinned to a machine are checked against that machine's inventory alone", async () => {
    const user = await createUser();
    const a = await machineWith(user, { checkpoints: ["a.safetensors"] });
    const b = await machineWith(user, { checkpoints: ["b.safetensors"] });
    const onA = await createDeployment(user, {
      graph: checkpointGraph("b.safetensors"),
      machine_id: a.machine.id,
    });
    const queue = (id: string) =>
      api<{ run_id: string } & Refusal>("/api/run/deployment/queue", {
        method: "POST",
        token: user.apiKey,
        json: { deployment_id: id, inputs: {} },
      });

    const refused = await queue(onA.id);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain("Model files not found on the deployment's machine");
    const onB = await createDeployment(user, {
      workflow_id: onA.workflow_id,
      environment: "staging",
      machine_id: b.machine.id,
    });
    const queued = await queue(onB.id);
    expect(queued.status).toBe(200);
    expect((await b.agent.job(queued.body.run_id)).run_id).toBe(queued.body.run_id);
    a.agent.close();
    b.agent.close();
  });

  it("of a deployment are checked against the files its pool's own node definitions name", async () => {
    const user = await createUser();
    // `StyleStack` names lora files only in this machine's definitions (no built-in loader knows it).
    const first = await machineWith(user, { loras: ["old.safetensors"] });
    const deployment = await createDeployment(user, {
      graph: checkpointGraph("ignored", {
        "1": { class_type: "StyleStack", inputs: { style: "new.safetensors" } },
      }),
    });
    const queue = () =>
      api<{ run_id: string } & Refusal>("/api/run/deployment/queue", {
        method: "POST",
        token: user.apiKey,
        json: { deployment_id: deployment.id, inputs: {} },
      });
    const refused = await queue();
    expect(refused.status).toBe(400);
    expect(refused.body.details[0]).toMatchObject({ value: { folder: "loras", name: "new.safetensors" } });
    first.agent.close();
    const second = await machineWith(user, { loras: ["new.safetensors"] });
    const queued = await queue();
    expect(queued.status).toBe(200);
    expect((await second.agent.job(queued.body.run_id)).run_id).toBe(queued.body.run_id);
    second.agent.close();
  });

  it("are not checked while no machine of the pool has reported an inventory", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const id = await executed(user, checkpointGraph("anything.safetensors"));
    expect((await agent.job(id)).run_id).toBe(id);
    agent.close();
  });
});

type LoadReply = {
  model_name: string;
  model_type: string;
  runs: { machine_id: string; run_id: string }[];
  skipped: { machine_id: string; reason: string }[];
} & Refusal;

const load = (user: TestUser, name: string, query = "") =>
  api<LoadReply>(`/models/${encodeURIComponent(name)}/load${query}`, { method: "POST", token: user.apiKey });

describe("loading a model", () => {
  it("queues a warm-up run of its loader on each machine that has the file, and on no other", async () => {
    const user = await createUser();
    const a = await machineWith(user, { checkpoints: ["a.safetensors", "shared.safetensors"] });
    const b = await machineWith(user, { checkpoints: ["shared.safetensors"], loras: ["style.pt"] });

    const one = await load(user, "a.safetensors", "?model_type=checkpoint");
    expect(one.status).toBe(202);
    expect(one.body).toMatchObject({ model_name: "a.safetensors", model_type: "checkpoint", skipped: [] });
    expect(one.body.runs).toEqual([{ machine_id: a.machine.id, run_id: expect.any(String) }]);
    const job = await a.agent.job(one.body.runs[0]?.run_id);
    expect(job.graph).toEqual({
      "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "a.safetensors" } },
      "2": { class_type: "PreviewAny", inputs: { source: ["1", 0] } },
    });
    await a.agent.complete(job);

    const both = await load(user, "shared.safetensors");
    expect(both.body.runs.map((r) => r.machine_id).sort()).toEqual([a.machine.id, b.machine.id].sort());
    await a.agent.job(both.body.runs.find((r) => r.machine_id === a.machine.id)?.run_id);
    await b.agent.job(both.body.runs.find((r) => r.machine_id === b.machine.id)?.run_id);
    const run = await api<{ metadata: unknown }>(`/api/run/${both.body.runs[0]?.run_id}`, {
      token: user.apiKey,
    });
    expect(run.body.metadata).toEqual({ model_load: { folder: "checkpoints", name: "shared.safetensors" } });
    a.agent.close();
    b.agent.close();
  });

  it("refuses what ComfyUI cannot load alone, a file no machine has, and another tenant's model", async () => {
    const user = await createUser();
    const a = await machineWith(user, { checkpoints: ["a.safetensors"], loras: ["style.pt"] });
    const lora = await load(user, "style.pt");
    expect(lora.status).toBe(400);
    expect(lora.body.details).toEqual([expect.objectContaining({ code: "LOAD_NOT_SUPPORTED" })]);
    expect((await load(user, "nowhere.safetensors")).status).toBe(404);
    expect((await load(user, "a.safetensors", "?model_type=lora")).status).toBe(404);
    expect((await load(user, "a.safetensors", "?model_type=Bad Type")).status).toBe(400);
    const other = await createUser();
    expect((await load(other, "a.safetensors")).status).toBe(404);
    expect(a.agent.all("job")).toEqual([]);

    // Offline: nothing could take the warm-up.
    a.agent.close();
    await eventually(
      async () =>
        (await env.DB.prepare("SELECT 1 FROM machines WHERE id = ? AND status = 'offline'")
          .bind(a.machine.id)
          .first()) ?? undefined,
      "the machine to be offline",
    );
    const offline = await load(user, "a.safetensors");
    expect(offline.status).toBe(409);
    expect(offline.body.details).toEqual([
      expect.objectContaining({ code: "NOT_WARMED", field: a.machine.id, message: "The machine is offline" }),
    ]);
  });
});
