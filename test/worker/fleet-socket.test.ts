import { describe, expect, it } from "vitest";
import { FleetSocket } from "../helpers/fleet-socket";
import { api } from "../helpers/http";
import { createMachine, executeRun } from "../helpers/runs";
import { progress, TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

describe("seed 003 /ws", () => {
  it("sends global_status on connect, then instance_status as agents come and go", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const socket = await FleetSocket.open(user.apiKey);
    const hello = await socket.until((m) => m.type === "global_status", "global status");
    expect(hello).toMatchObject({
      timestamp: expect.any(Number),
      requestId: null,
      data: { totalInstances: 0, aliveInstances: 0, pendingTasks: 0 },
    });
    const agent = await TestAgent.connect(machine.token);
    const online = await socket.until((m) => m.type === "instance_status", "online");
    expect(online.data).toEqual({
      instanceId: `${machine.id}:comfy-0`,
      alive: true,
      busy: false,
      enabled: true,
    });
    await socket.until(
      (m) => m.type === "global_status" && m.data.aliveInstances === 1,
      "global status after",
    );
    const seen = socket.received.length;
    agent.close();
    const offline = await socket.until((m) => m.type === "instance_status", "offline", seen);
    expect(offline.data).toMatchObject({ instanceId: `${machine.id}:comfy-0`, alive: false });
    socket.close();
  });

  it("coalesces progress per task and reports completion and failure", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token, { slots: 2 });
    const socket = await FleetSocket.open(user.apiKey, "/api/ws");
    const good = await executeRun(user);
    const bad = await executeRun(user);
    const goodJob = await agent.job(good);
    for (const p of [10, 20, 30, 40, 50]) await agent.report(goodJob, progress(p));
    const latest = await socket.until(
      (m) => m.type === "task_progress" && m.data.taskId === good && m.data.progress === 50,
      "newest progress",
    );
    expect(latest.data).toEqual({ taskId: good, progress: 50 });
    expect(socket.of("task_progress").length).toBeLessThan(5);
    await agent.report(goodJob, { kind: "succeeded", outputs: [] });
    const completed = await socket.until((m) => m.type === "task_completed", "completed");
    expect(completed.data).toEqual({ taskId: good, result: { files: [] } });
    await agent.report(await agent.job(bad), {
      kind: "failed",
      error: { code: "execution_error", message: "boom" },
    });
    const failed = await socket.until((m) => m.type === "task_failed", "failed");
    expect(failed.data).toEqual({ taskId: bad, status: "failed", error: "boom" });
    agent.close();
    socket.close();
  });

  it("keeps tenants apart and needs credentials", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const bobSocket = await FleetSocket.open(bob.apiKey);
    await bobSocket.until((m) => m.type === "global_status", "bob's status");
    const aliceSocket = await FleetSocket.open(alice.apiKey);
    const agent = await TestAgent.connect((await createMachine(alice)).token);
    const run = await executeRun(alice);
    await agent.report(await agent.job(run), { kind: "succeeded", outputs: [] });
    await aliceSocket.until((m) => m.type === "task_completed", "alice's completion");
    // Bob's socket asks for a status after Alice's events: a barrier on his socket's ordering.
    bobSocket.ws.send("ping");
    await bobSocket.until((m) => m.type === "global_status", "bob's second status", 1);
    expect(bobSocket.received.map((m) => m.type)).toEqual(["global_status", "global_status"]);
    expect((await api("/ws", { headers: { Upgrade: "websocket" } })).status).toBe(401);
    expect((await api("/api/ws", { token: bob.apiKey })).status).toBe(400);
    agent.close();
    aliceSocket.close();
    bobSocket.close();
  });
});
