import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createMachine, demoGraph, executeRun } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type Instance = {
  id: string;
  serverId: string;
  serverName: string;
  ip: string;
  port: number;
  enabled: boolean;
  alive: boolean;
  busy: boolean;
  lastHeartbeat: string | null;
  current_task_id: string | null;
};
type Envelope<T> = { code: number; data: T };

const instances = async (user: TestUser) =>
  (await api<Envelope<Instance[]>>("/api/instances", { token: user.apiKey })).body.data;

async function connectedFleet(slots = 2) {
  const user = await createUser("fleet");
  const machine = await createMachine(user);
  const agent = await TestAgent.connect(machine.token, { slots });
  return { user, machine, agent };
}

describe("seed 003 instances", () => {
  it("lists each ComfyUI of a connected agent in seed 003's shape", async () => {
    const { user, machine, agent } = await connectedFleet();
    const res = await api<Envelope<Instance[]>>("/api/instances", { token: user.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(200);
    expect(res.body.data).toHaveLength(2);
    expect(res.body.data[0]).toMatchObject({
      id: `${machine.id}:comfy-0`,
      serverId: machine.id,
      serverName: expect.any(String),
      ip: "127.0.0.1",
      port: 8188,
      enabled: true,
      alive: true,
      busy: false,
      lastHeartbeat: expect.any(String),
    });
    agent.close();
  });

  it("shows a busy instance with its task, and one whose ComfyUI stopped answering as not alive", async () => {
    const { user, machine, agent } = await connectedFleet();
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    expect(job.instance_id).toBe("comfy-0");
    agent.heartbeat([{ run_id: runId, lease_token: job.lease_token }], {
      instances: [
        { id: "comfy-0", available: true },
        { id: "comfy-1", available: false, reason: "ComfyUI does not answer" },
      ],
    });
    await expect
      .poll(async () => (await instances(user)).find((i) => i.id === `${machine.id}:comfy-1`)?.alive)
      .toBe(false);
    const busyKey = `${machine.id}:comfy-0`;
    const busy = (await instances(user)).find((i) => i.id === busyKey);
    expect(busy).toMatchObject({ busy: true, alive: true, current_task_id: runId });
    const one = await api<Envelope<Instance>>(`/api/instances/${busyKey}`, { token: user.apiKey });
    expect(one.body.data).toMatchObject({ id: busyKey, busy: true });
    agent.close();
  });

  it("drains a disabled instance: it finishes its job and takes no new one until enabled", async () => {
    const { user, machine, agent } = await connectedFleet(1);
    const first = await executeRun(user);
    const job = await agent.job(first);
    const key = `${machine.id}:comfy-0`;
    const put = await api<Envelope<Instance>>(`/api/instances/${key}`, {
      method: "PUT",
      token: user.apiKey,
      json: { enabled: false },
    });
    expect(put.status).toBe(200);
    expect(put.body.data).toMatchObject({ enabled: false, busy: true });
    await agent.report(job, { kind: "succeeded", outputs: [] });
    const second = await executeRun(user);
    const waiting = await api<{ status: string }>(`/api/run/${second}`, { token: user.apiKey });
    expect(waiting.body.status).toBe("not-started");
    expect(agent.all("job").map((j) => j.run_id)).not.toContain(second);

    await api(`/api/instances/${key}`, { method: "PUT", token: user.apiKey, json: { enabled: true } });
    expect((await agent.job(second)).instance_id).toBe("comfy-0");
    agent.close();
  });

  it("refuses bad input and hides another tenant's instance", async () => {
    const { machine, agent } = await connectedFleet(1);
    const other = await createUser("other");
    const key = `${machine.id}:comfy-0`;
    expect((await api(`/api/instances/${key}`, { token: other.apiKey })).status).toBe(404);
    const put = await api(`/api/instances/${key}`, {
      method: "PUT",
      token: other.apiKey,
      json: { enabled: false },
    });
    expect(put.status).toBe(404);
    expect(await instances(other)).toEqual([]);
    expect((await api("/api/instances/nonsense", { token: other.apiKey })).status).toBe(404);
    const bad = await api(`/api/instances/${key}`, {
      method: "PUT",
      token: other.apiKey,
      json: { enabled: 1 },
    });
    expect(bad.status).toBe(400);
    expect((await api("/api/instances")).status).toBe(401);
    agent.close();
  });
});

describe("seed 003 tasks", () => {
  type Task = { id: string; instanceId: string | null; status: string; progress: number };

  it("submits a workflow with params bound into the graph and reads it back", async () => {
    const { user, machine, agent } = await connectedFleet(1);
    const res = await api<Envelope<Task>>("/api/tasks", {
      method: "POST",
      token: user.apiKey,
      json: { workflow: demoGraph, params: { "1.width": 128, "1.color": 7 } },
    });
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ id: expect.any(String), status: "pending", progress: 0 });
    const job = await agent.job(res.body.data.id);
    expect(job.bindings.map((b) => b.input_id).sort()).toEqual(["1.color", "1.width"]);
    expect(job.inputs).toEqual({ "1.width": 128, "1.color": 7 });
    await agent.report(job, { kind: "succeeded", outputs: [] });
    const read = await api<Envelope<Task>>(`/api/tasks/${res.body.data.id}`, { token: user.apiKey });
    expect(read.body.data).toMatchObject({
      status: "completed",
      progress: 100,
      instanceId: `${machine.id}:comfy-0`,
    });
    agent.close();
  });

  it("refuses params that name no node or input, or overwrite a link", async () => {
    const user = await createUser();
    for (const params of [{ "9.width": 1 }, { "1.depth": 1 }, { "2.image": "x" }, { width: 3 }]) {
      const res = await api("/api/tasks", {
        method: "POST",
        token: user.apiKey,
        json: { workflow: demoGraph, params },
      });
      expect(res.status, JSON.stringify(params)).toBe(400);
    }
  });

  it("lists with status, limit and offset, and cancels through DELETE", async () => {
    const user = await createUser();
    const ids = [await executeRun(user), await executeRun(user), await executeRun(user)];
    const del = await api<Envelope<Task>>(`/api/tasks/${ids[0]}`, { method: "DELETE", token: user.apiKey });
    expect(del.body.data.status).toBe("cancelled");
    const pending = await api<Envelope<{ total: number; items: Task[] }>>(
      "/api/tasks?status=pending&limit=1&offset=0",
      { token: user.apiKey },
    );
    expect(pending.body.code).toBe(200);
    expect(pending.body.data.total).toBe(2);
    expect(pending.body.data.items).toHaveLength(1);
    expect(Object.keys(pending.body.data.items[0] ?? {})).toEqual(
      expect.arrayContaining(["id", "instanceId", "status", "progress", "createdAt", "updatedAt"]),
    );
    const cancelled = await api<Envelope<{ total: number }>>("/api/tasks?status=cancelled", {
      token: user.apiKey,
    });
    expect(cancelled.body.data.total).toBe(1);
    expect((await api("/api/tasks?status=bogus", { token: user.apiKey })).status).toBe(400);
  });

  it("hides another tenant's task", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const id = await executeRun(alice);
    expect((await api(`/api/tasks/${id}`, { token: bob.apiKey })).status).toBe(404);
    expect((await api(`/api/tasks/${id}`, { method: "DELETE", token: bob.apiKey })).status).toBe(404);
    const list = await api<Envelope<{ total: number }>>("/api/tasks", { token: bob.apiKey });
    expect(list.body.data.total).toBe(0);
  });
});

describe("seed 003 monitor overview", () => {
  it("counts instances alive and busy and tasks by status", async () => {
    const { user, agent } = await connectedFleet(2);
    const running = await executeRun(user);
    const job = await agent.job(running);
    await agent.report(job, { kind: "started" });
    const done = await executeRun(user);
    await agent.report(await agent.job(done), { kind: "succeeded", outputs: [] });
    const res = await api<Envelope<Record<string, number>>>("/api/monitor/overview", { token: user.apiKey });
    expect(res.body).toEqual({
      code: 200,
      data: expect.objectContaining({
        totalInstances: 2,
        aliveInstances: 2,
        busyInstances: 1,
        pendingTasks: 0,
        runningTasks: 1,
        completedTasks: 1,
      }),
    });
    const other = await createUser();
    const empty = await api<Envelope<Record<string, number>>>("/api/monitor/overview", {
      token: other.apiKey,
    });
    expect(empty.body.data).toMatchObject({ totalInstances: 0, runningTasks: 0, completedTasks: 0 });
    agent.close();
  });
});
