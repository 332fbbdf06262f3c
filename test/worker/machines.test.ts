import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createMachine, executeRun, getRunStatus } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

describe("machines", () => {
  it("creates a machine with a token shown once, and lists it without the token", async () => {
    const user = await createUser();
    const created = await api<{ id: string; token: string; status: string; pool: string }>(
      "/api/machine/custom",
      {
        method: "POST",
        token: user.apiKey,
        json: { name: "gpu-box", pool: "fast" },
      },
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ status: "offline", pool: "fast" });
    expect(created.body.token).toMatch(/^ce_mach_/);
    const list = await api<{ id: string }[]>("/api/machines", { token: user.apiKey });
    expect(list.body.map((m) => m.id)).toEqual([created.body.id]);
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
  });

  it("shows what the agent reported once it is online", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const agent = await TestAgent.connect(machine.token, { slots: 2 });
    const res = await api<{ status: string; instances: unknown[]; agent: { version: string } }>(
      `/api/machine/${machine.id}`,
      { token: user.apiKey },
    );
    expect(res.body.status).toBe("online");
    expect(res.body.instances).toHaveLength(2);
    expect(res.body.agent.version).toBe("test");
    agent.close();
  });

  it("validates input", async () => {
    const user = await createUser();
    const res = await api<{ details: { field: string }[] }>("/api/machine/custom", {
      method: "POST",
      token: user.apiKey,
      json: { name: "", pool: "Not A Pool!" },
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d) => d.field).sort()).toEqual(["name", "pool"]);
  });

  it("deleting a machine revokes its token, closes its socket and re-queues its runs", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const agent = await TestAgent.connect(machine.token);
    const runId = await executeRun(user);
    await agent.job(runId);
    const del = await api(`/api/machine/${machine.id}`, { method: "DELETE", token: user.apiKey });
    expect(del.status).toBe(200);
    await agent.until(() => agent.closedWith ?? undefined, "close");
    expect(agent.closedWith).toBe(4001);
    expect((await TestAgent.open(machine.token)).status).toBe(401);
    const run = await getRunStatus(user, runId);
    expect(run).toMatchObject({ status: "not-started", attempt: 2 });
    expect((await api(`/api/machine/${machine.id}`, { token: user.apiKey })).status).toBe(404);
  });

  it("another tenant's machine is a 404 everywhere", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const machine = await createMachine(alice);
    expect((await api(`/api/machine/${machine.id}`, { token: bob.apiKey })).status).toBe(404);
    expect((await api(`/api/machine/${machine.id}`, { method: "DELETE", token: bob.apiKey })).status).toBe(
      404,
    );
    expect((await api<unknown[]>("/api/machines", { token: bob.apiKey })).body).toEqual([]);
    expect((await api(`/api/machine/${machine.id}`, { token: alice.apiKey })).status).toBe(200);
  });

  it("a second connection replaces the first", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const first = await TestAgent.connect(machine.token);
    const second = await TestAgent.connect(machine.token);
    await first.until(() => first.closedWith ?? undefined, "close");
    expect(first.closedWith).toBe(4000);
    second.close();
  });

  it("answers bad frames with an error naming the field, and refuses work before hello", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const { agent } = await TestAgent.open(machine.token);
    agent!.send({ type: "heartbeat", leases: [] });
    await agent!.until(() => agent!.closedWith ?? undefined, "close");
    expect(agent!.closedWith).toBe(4002);
    const next = await TestAgent.connect(machine.token);
    next.send({ type: "report", event_id: "x" });
    const error = await next.next("error");
    expect(error.code).toBe("invalid_message");
    next.close();
  });
});
