import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDeployment } from "../helpers/fixtures";
import { api, BASE } from "../helpers/http";
import { eventually, reportDefinitions } from "../helpers/node-definitions";
import { createMachine, demoGraph } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type Warning = { code: string; message: string };
type NodeError = { errors: { type: string; message: string; details: string }[]; class_type: string };
type Refusal = {
  error: string;
  message: string;
  details: { code: string; field?: string }[];
  node_errors: Record<string, NodeError>;
};

const withUnknownNode = { ...demoGraph, "4": { class_type: "NoSuchNode", inputs: { image: ["2", 0] } } };

const execute = (user: TestUser, workflow: unknown, pool?: string) =>
  api<{ execution_id: string } & Refusal>("/api/workflows/execute", {
    method: "POST",
    token: user.apiKey,
    json: { workflow, pool },
  });

/** The definitions an agent sent are stored (and linked) after its message is handled. */
const definitionsLinked = (machineId: string) =>
  eventually(
    async () =>
      (await env.DB.prepare("SELECT hash FROM machine_node_definitions WHERE machine_id = ?")
        .bind(machineId)
        .first()) ?? undefined,
    "the definitions to be linked",
  );

/** Every event the run's room holds, replayed from the start over its WebSocket. */
type Frame = { type: string; data: Warning & { status?: string } };

/** The run's room from its first event, until a frame for which `last` holds. */
async function roomFrames(token: string, runId: string, last: (frame: Frame) => boolean) {
  const res = await exports.default.fetch(`${BASE}/api/run/${runId}/ws?after=0`, {
    headers: { Upgrade: "websocket", Authorization: `Bearer ${token}` },
  });
  const ws = res.webSocket;
  if (!ws) throw new Error(`no run socket: ${res.status}`);
  const frames: Frame[] = [];
  const enough = new Promise<void>((resolve) =>
    ws.addEventListener("message", (e) => {
      const frame = JSON.parse(e.data as string) as Frame;
      frames.push(frame);
      if (last(frame)) resolve();
    }),
  );
  ws.accept();
  await enough;
  ws.close();
  return frames;
}

async function roomEvents(token: string, runId: string, count: number) {
  let warnings = 0;
  const frames = await roomFrames(token, runId, (f) => f.type === "warning" && ++warnings === count);
  return frames.filter((f) => f.type === "warning").map((f) => f.data.code);
}

describe("graphs checked against the node classes the pool reports", () => {
  it("refuses an unknown class_type in every run-creating path, naming the node like ComfyUI", async () => {
    const user = await createUser();
    const { agent, machine } = await reportDefinitions(user);
    await definitionsLinked(machine.id);

    const res = await execute(user, withUnknownNode);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("validation_error");
    expect(res.body.message).toMatch(/Cannot execute because node NoSuchNode does not exist\. Node ID '#4'/);
    expect(res.body.details).toEqual([
      expect.objectContaining({ code: "UNKNOWN_NODE_CLASS", field: "4.class_type" }),
    ]);
    expect(res.body.node_errors).toEqual({
      "4": {
        errors: [
          {
            type: "invalid_prompt",
            message: "Cannot execute because node NoSuchNode does not exist.",
            details: "Node ID '#4'",
            extra_info: {},
          },
        ],
        dependent_outputs: [],
        class_type: "NoSuchNode",
      },
    });

    const task = await api<Refusal>("/api/tasks", {
      method: "POST",
      token: user.apiKey,
      json: { workflow: withUnknownNode },
    });
    expect(task.status).toBe(400);
    expect(Object.keys(task.body.node_errors)).toEqual(["4"]);

    const deployment = await createDeployment(user, { graph: withUnknownNode });
    const queued = await api<Refusal>("/api/run/deployment/queue", {
      method: "POST",
      token: user.apiKey,
      json: { deployment_id: deployment.id },
    });
    expect(queued.status).toBe(400);
    expect(queued.body.node_errors["4"]?.class_type).toBe("NoSuchNode");

    // Known classes pass, and with a machine online and definitions reported there is nothing to warn of.
    const ok = await execute(user, demoGraph);
    expect(ok.status).toBe(200);
    const view = await api<{ warnings: Warning[] }>(`/api/run/${ok.body.execution_id}`, {
      token: user.apiKey,
    });
    expect(view.body.warnings).toEqual([]);
    agent.close();
  });

  it("checks against the pool's own machines and the tenant's own definitions", async () => {
    const user = await createUser();
    const { agent, machine } = await reportDefinitions(user, "gpu-a");
    await definitionsLinked(machine.id);
    expect((await execute(user, withUnknownNode, "gpu-a")).status).toBe(400);

    // Another pool of the same tenant, and another tenant, have reported nothing: accepted, with a warning.
    const otherPool = await execute(user, withUnknownNode, "gpu-b");
    expect(otherPool.status).toBe(200);
    const other = await createUser();
    const otherTenant = await execute(other, withUnknownNode);
    expect(otherTenant.status).toBe(200);
    const view = await api<{ warnings: Warning[] }>(`/api/run/${otherTenant.body.execution_id}`, {
      token: other.apiKey,
    });
    expect(view.body.warnings.map((w) => w.code)).toContain("node_classes_unchecked");
    expect((await api(`/api/run/${otherTenant.body.execution_id}`, { token: user.apiKey })).status).toBe(404);
    agent.close();
  });
});

describe("runs accepted with warnings", () => {
  it("says so when no machine of the pool is online: in the run, the execution and the run's events", async () => {
    const user = await createUser();
    const res = await execute(user, demoGraph);
    expect(res.status).toBe(200);
    const id = res.body.execution_id;
    const expected = ["node_classes_unchecked", "no_machine_online"];

    const run = await api<{ status: string; warnings: Warning[] }>(`/api/run/${id}`, { token: user.apiKey });
    expect(run.body.status).toBe("not-started");
    expect(run.body.warnings.map((w) => w.code)).toEqual(expected);
    expect(run.body.warnings[1]?.message).toMatch(/No machine of pool "default" is online/);
    const execution = await api<{ warnings: Warning[] }>(`/api/workflows/${id}`, { token: user.apiKey });
    expect(execution.body.warnings).toEqual(run.body.warnings);
    expect(await roomEvents(user.apiKey, id, 2)).toEqual(expected);

    // The run still goes to the first machine that connects.
    const agent = await TestAgent.connect((await createMachine(user)).token);
    expect((await agent.job(id)).run_id).toBe(id);
    agent.close();
  });

  it("warns only of the skipped check while a machine is online, in the room before the run's status", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const res = await execute(user, demoGraph);
    const id = res.body.execution_id;
    const run = await api<{ warnings: Warning[] }>(`/api/run/${id}`, { token: user.apiKey });
    expect(run.body.warnings.map((w) => w.code)).toEqual(["node_classes_unchecked"]);
    await agent.job(id);
    // The job left at once; the lease's `queued` event still follows the warning.
    const frames = await roomFrames(user.apiKey, id, (f) => f.type === "status");
    expect(frames.map((f) => f.type)).toEqual(["snapshot", "warning", "status"]);
    expect(frames[2]).toMatchObject({ data: { status: "queued" } });
    agent.close();
  });
});

/** An agent whose machine reports one GPU, once the machine's row holds it. */
async function agentWithGpu(user: TestUser, gpuName: string) {
  const machine = await createMachine(user);
  const { agent } = await TestAgent.open(machine.token);
  if (!agent) throw new Error("no agent socket");
  agent.send({
    type: "hello",
    protocol: 1,
    agent: { version: "test" },
    gpus: [{ index: 0, name: gpuName }],
    instances: [{ id: "comfy-0", comfy_url: "http://127.0.0.1:8188", available: true }],
  });
  await agent.next("welcome");
  await eventually(
    async () =>
      (await env.DB.prepare("SELECT info FROM machines WHERE id = ? AND info LIKE ?")
        .bind(machine.id, `%${gpuName}%`)
        .first()) ?? undefined,
    "the machine's GPUs to be recorded",
  );
  return agent;
}

const queueOn = (user: TestUser, deploymentId: string, gpu: string) =>
  api<{ run_id: string } & Refusal>("/api/run/deployment/queue", {
    method: "POST",
    token: user.apiKey,
    json: { deployment_id: deploymentId, gpu },
  });

describe("a run's GPU requirement", () => {
  it("routes only to a machine reporting that GPU (case-insensitive substring)", async () => {
    const user = await createUser();
    const a100 = await agentWithGpu(user, "NVIDIA A100-SXM4-80GB");
    const t4 = await agentWithGpu(user, "Tesla T4");
    const deployment = await createDeployment(user);

    const first = await queueOn(user, deployment.id, "a100");
    expect(first.status).toBe(200);
    const firstJob = await a100.job(first.body.run_id);
    // The A100 machine is busy and the T4 one idle: the second A100 run waits rather than go to the T4.
    const second = await queueOn(user, deployment.id, "A100");
    const third = await queueOn(user, deployment.id, "t4");
    await t4.job(third.body.run_id);
    expect(t4.all("job").map((j) => j.run_id)).toEqual([third.body.run_id]);

    await a100.report(firstJob, { kind: "started" });
    await a100.report(firstJob, { kind: "succeeded", outputs: [] });
    expect((await a100.job(second.body.run_id)).run_id).toBe(second.body.run_id);

    const view = await api<{ gpu: string | null }>(`/api/run/${second.body.run_id}`, { token: user.apiKey });
    expect(view.body.gpu).toBe("A100");
    a100.close();
    t4.close();
  });

  it("is refused with a 400 when no machine of the pool, or of the tenant, ever reported it", async () => {
    const user = await createUser();
    const agent = await agentWithGpu(user, "NVIDIA GeForce RTX 4090");
    const deployment = await createDeployment(user);
    const refused = await queueOn(user, deployment.id, "H100");
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/GPU "H100" is not available: no machine of pool "default"/);
    expect(refused.body.details).toEqual([
      expect.objectContaining({ code: "GPU_UNAVAILABLE", field: "gpu" }),
    ]);
    expect((await queueOn(user, deployment.id, "rtx 4090")).status).toBe(200);

    const other = await createUser();
    const otherDeployment = await createDeployment(other);
    expect((await queueOn(other, otherDeployment.id, "RTX 4090")).status).toBe(400);
    expect((await queueOn(other, deployment.id, "RTX 4090")).status).toBe(404);
    agent.close();
  });
});
