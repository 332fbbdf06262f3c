import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createMachine, demoGraph, executeRun } from "../helpers/runs";
import { progress, TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

describe("status in every dialect", () => {
  it("reports a running run as ComfyDeploy, seed 000, seed 001 and seed 004 expect", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user, { timeout_minutes: 10 });
    const job = await agent.job(runId);
    await agent.report(job, { kind: "started" });
    const p = progress(40);
    p.progress.step = 8;
    p.progress.total_steps = 20;
    p.progress.current_node_type = "KSampler";
    await agent.report(job, p);
    const token = user.apiKey;

    const run = await api<Record<string, unknown>>(`/api/run/${runId}?queue_position=true`, { token });
    expect(run.body).toMatchObject({
      id: runId,
      status: "running",
      progress: 0.4,
      origin: "execution",
      number: 0,
    });
    const bySeed001 = await api<Record<string, unknown>>(`/api/run?run_id=${runId}`, { token });
    expect(bySeed001.body).toMatchObject({ id: runId, workflow_inputs: {}, workflow_outputs: {} });
    const status = await api<Record<string, unknown>>(`/api/status/${runId}`, { token });
    expect(status.body).toMatchObject({
      progress: { current: 40, total: 100, message: "KSampler step 8/20" },
    });
    const execution = await api<Record<string, unknown>>(`/api/workflows/${runId}/status`, { token });
    expect(execution.body).toMatchObject({
      status: "running",
      progress: { current_step: 8, total_steps: 20, percentage: 40, current_node: "2", eta_seconds: 1 },
    });
    agent.close();
  });

  it("shows the queue position of a waiting run", async () => {
    const user = await createUser();
    await executeRun(user);
    const second = await executeRun(user);
    const res = await api<{ queue_position: number }>(`/api/run/${second}?queue_position=true`, {
      token: user.apiKey,
    });
    expect(res.body.queue_position).toBe(1);
    const execution = await api<{ queue_position: number }>(`/api/workflows/${second}/status`, {
      token: user.apiKey,
    });
    expect(execution.body.queue_position).toBe(1);
  });

  it("lists runs with filters and pagination", async () => {
    const user = await createUser();
    const ids = [await executeRun(user), await executeRun(user), await executeRun(user)];
    await api(`/api/run/${ids[0]}/cancel`, { method: "POST", token: user.apiKey });
    const page = await api<{ runs: { id: string }[]; total: number }>("/api/runs?limit=2", {
      token: user.apiKey,
    });
    expect(page.body.total).toBe(3);
    expect(page.body.runs.map((r) => r.id)).toEqual([ids[2], ids[1]]);
    const cancelled = await api<{ runs: { id: string }[] }>("/api/runs?status=cancelled", {
      token: user.apiKey,
    });
    expect(cancelled.body.runs.map((r) => r.id)).toEqual([ids[0]]);
    const bad = await api<{ details: { field: string }[] }>("/api/runs?status=bogus", { token: user.apiKey });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0]?.field).toBe("status");
    const seed004 = await api<unknown[]>("/api/workflows/?status=cancelled", { token: user.apiKey });
    expect(seed004.body).toHaveLength(1);
  });
});

describe("executions (seed 004)", () => {
  it("accepts the typed-list graph form", async () => {
    const user = await createUser();
    const workflow = {
      nodes: {
        "1": {
          id: "1",
          class_type: "EmptyImage",
          inputs: [
            { name: "width", type: "INT", value: 64, required: true },
            { name: "height", type: "INT", value: 64, required: true },
          ],
        },
        "2": {
          id: "2",
          class_type: "SaveImage",
          inputs: [{ name: "images", type: "IMAGE", value: ["1", 0], required: true }],
        },
      },
    };
    const res = await api<{ execution_id: string; status: string }>("/api/workflows/execute", {
      method: "POST",
      token: user.apiKey,
      json: { workflow },
    });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending");
  });

  it("rejects a broken graph with field details and a bad priority", async () => {
    const user = await createUser();
    const res = await api<{ details: { field: string }[] }>("/api/workflows/execute", {
      method: "POST",
      token: user.apiKey,
      json: {
        workflow: { "1": { class_type: "SaveImage", inputs: { images: ["9", 0] } } },
        priority: "urgent",
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d) => d.field)).toContain("priority");
  });

  it("retries a failed run as a new one and keeps logs per run", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    await agent.report(job, { kind: "log", level: "INFO", message: "loading", node_id: "1" });
    await agent.report(job, { kind: "log", level: "ERROR", message: "exploded", node_id: "2" });
    await agent.report(job, { kind: "failed", error: { code: "execution_error", message: "exploded" } });

    const logs = await api<{ logs: { message: string }[]; total_count: number }>(
      `/api/workflows/${runId}/logs`,
      {
        token: user.apiKey,
      },
    );
    expect(logs.body.logs.map((l) => l.message)).toEqual(["loading", "exploded"]);
    const errors = await api<{ logs: unknown[]; filtered: boolean }>(
      `/api/workflows/${runId}/logs?level=ERROR&tail=5`,
      {
        token: user.apiKey,
      },
    );
    expect(errors.body).toMatchObject({
      filtered: true,
      logs: [expect.objectContaining({ level: "ERROR" })],
    });

    const retry = await api<{ execution_id: string; retried_from: string }>(`/api/workflows/${runId}/retry`, {
      method: "POST",
      token: user.apiKey,
    });
    expect(retry.body.retried_from).toBe(runId);
    const again = await agent.job(retry.body.execution_id);
    expect(again.graph).toEqual(demoGraph);
    const result = await api<{ retried_from: string; status: string }>(
      `/api/workflows/${retry.body.execution_id}`,
      {
        token: user.apiKey,
      },
    );
    expect(result.body).toMatchObject({ retried_from: runId, status: "pending" });
    agent.close();
  });

  it("refuses to retry a run that is not finished", async () => {
    const user = await createUser();
    const runId = await executeRun(user);
    const res = await api(`/api/workflows/${runId}/retry`, { method: "POST", token: user.apiKey });
    expect(res.status).toBe(409);
  });
});

describe("tenants", () => {
  it("another tenant's run id is a 404 on every route", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const runId = await executeRun(alice);
    const token = bob.apiKey;
    const routes: [string, string][] = [
      ["GET", `/api/run/${runId}`],
      ["GET", `/api/run?run_id=${runId}`],
      ["GET", `/api/status/${runId}`],
      ["POST", `/api/run/${runId}/cancel`],
      ["GET", `/api/run/${runId}/events`],
      ["GET", `/api/workflows/${runId}`],
      ["GET", `/api/workflows/${runId}/status`],
      ["GET", `/api/workflows/${runId}/logs`],
      ["POST", `/api/workflows/${runId}/cancel`],
      ["POST", `/api/workflows/${runId}/retry`],
    ];
    for (const [method, path] of routes) {
      const res = await api(path, { method, token });
      expect([path, res.status]).toEqual([path, 404]);
    }
    expect((await api<{ total: number }>("/api/runs", { token })).body.total).toBe(0);
    expect((await api(`/api/run/${runId}`, { token: alice.apiKey })).status).toBe(200);
  });

  it("needs auth on every run route", async () => {
    expect((await api("/api/runs")).status).toBe(401);
    expect((await api("/api/run/deployment/queue", { method: "POST", json: {} })).status).toBe(401);
    expect((await api("/api/workflows/execute", { method: "POST", json: {} })).status).toBe(401);
  });
});
