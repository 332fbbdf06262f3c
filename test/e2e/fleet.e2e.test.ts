import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { startAgent } from "./support/agent";
import { call, uploadPng } from "./support/api";
import { sharedWorker } from "./support/worker";

const worker = sharedWorker();
let sim: ComfySimulator;

beforeAll(async () => {
  sim = await startComfySimulator({ stepMs: 10 });
});

afterAll(async () => {
  await sim?.close();
});

type FleetMessage = { type: string; data: Record<string, unknown> };

/** A `/ws` client that waits on messages. */
function fleetSocket(token: string) {
  const received: FleetMessage[] = [];
  const waiters = new Set<() => void>();
  const ws = new WebSocket(`${worker.url.replace(/^http/, "ws")}/ws`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  ws.on("message", (raw) => {
    received.push(JSON.parse(raw.toString()) as FleetMessage);
    for (const wake of waiters) wake();
  });
  const until = (match: (m: FleetMessage) => boolean, from: number) =>
    new Promise<FleetMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no match in ${JSON.stringify(received)}`)), 20_000);
      const check = () => {
        const found = received.slice(from).find(match);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      check();
    });
  return { ws, received, until };
}

describe("the fleet over /ws with real agents", () => {
  it("sees an instance go offline when its agent is killed and come back when it restarts", async () => {
    const user = await worker.createUser("fleet");
    const res = await fetch(`${worker.url}/api/machine/custom`, {
      method: "POST",
      headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "e2e-fleet" }),
    });
    const machine = (await res.json()) as { id: string; token: string };
    const socket = fleetSocket(user.apiKey);
    await socket.until((m) => m.type === "global_status", 0);
    const instanceId = `${machine.id}:comfy-0`;
    const isInstance = (alive: boolean) => (m: FleetMessage) =>
      m.type === "instance_status" && m.data.instanceId === instanceId && m.data.alive === alive;

    const first = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url });
    await socket.until(isInstance(true), 0);
    const before = socket.received.length;
    await first.stop("SIGKILL");
    await socket.until(isInstance(false), before);
    const after = socket.received.length;
    const second = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url });
    await socket.until(isInstance(true), after);
    const overview = await fetch(`${worker.url}/api/monitor/overview`, {
      headers: { Authorization: `Bearer ${user.apiKey}` },
    });
    expect(((await overview.json()) as { data: Record<string, number> }).data).toMatchObject({
      totalInstances: 1,
      aliveInstances: 1,
    });
    await second.stop("SIGKILL");
    socket.ws.close();
  });
});

describe("runs across two agents with two ComfyUIs each", () => {
  it("lands a pinned deployment's runs on its machine; /ws, the overview and /metrics agree; a disabled instance drains", async () => {
    const user = await worker.createUser("fleet-runs");
    const sims = await Promise.all([0, 1, 2, 3].map(() => startComfySimulator({ stepMs: 5 })));
    const machines = await Promise.all(
      ["e2e-a", "e2e-b"].map((name) =>
        call<{ id: string; token: string }>(worker, user, "POST", "/api/machine/custom", { name }),
      ),
    );
    const [a, b] = machines as [(typeof machines)[0], (typeof machines)[0]];
    const agents = await Promise.all(
      machines.map((m, i) =>
        startAgent({
          server: worker.url,
          token: m.token,
          comfy: `${sims[2 * i]?.url},${sims[2 * i + 1]?.url}`,
        }),
      ),
    );
    await Promise.all(agents.map((agent) => agent.connected()));
    const socket = fleetSocket(user.apiKey);
    await socket.until((m) => m.type === "global_status", 0);

    const fileId = await uploadPng(worker, user, sim);
    const workflow = await call<{ id: string }>(worker, user, "POST", "/api/workflow", {
      name: "invert-pinned",
      workflow_api: {
        "1": { class_type: "LoadImage", inputs: { image: "example.png" } },
        "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
        "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "pinned" } },
      },
    });
    const deployment = await call<{ id: string }>(worker, user, "POST", "/api/deployment", {
      workflow_id: workflow.id,
      environment: "production",
      machine_id: a.id,
      inputs: [{ input_id: "input_image", node_id: "1", input_name: "image", type: "image" }],
    });
    const queue = async () =>
      (
        await call<{ run_id: string }>(worker, user, "POST", "/api/run/deployment/queue", {
          deployment_id: deployment.id,
          inputs: { input_image: fileId },
        })
      ).run_id;
    const ended = (type: string, taskId: string) =>
      socket.until((m) => m.type === type && m.data.taskId === taskId, 0);

    const succeeded = await Promise.all([queue(), queue(), queue()]);
    await Promise.all(succeeded.map((id) => ended("task_completed", id)));
    for (const sim of sims.slice(0, 2)) sim.failNode("ImageInvert", { times: 1 });
    const failed = await queue();
    await ended("task_failed", failed);
    for (const sim of sims.slice(0, 2)) sim.clearFailures();

    for (const id of [...succeeded, failed]) {
      const run = await call<{ machine_id: string; status: string }>(worker, user, "GET", `/api/run/${id}`);
      expect(run.machine_id).toBe(a.id);
    }
    expect(socket.received.some((m) => m.type === "task_progress")).toBe(true);
    const overview = await call<{ data: Record<string, number> }>(
      worker,
      user,
      "GET",
      "/api/monitor/overview",
    );
    expect(overview.data).toMatchObject({
      totalInstances: 4,
      aliveInstances: 4,
      completedTasks: 3,
      runningTasks: 0,
      pendingTasks: 0,
    });
    const metrics = await call<Record<string, number>>(worker, user, "GET", "/metrics/");
    expect(metrics).toMatchObject({
      total_executions: 4,
      completed_executions: 3,
      failed_executions: 1,
      active_executions: 0,
      queue_size: 0,
      instances_total: 4,
    });

    // Drain: a disabled instance of B finishes its run and takes no new one until enabled again.
    const pinnedToB = await call<{ id: string }>(worker, user, "POST", "/api/deployment", {
      workflow_id: workflow.id,
      environment: "production",
      machine_id: b.id,
      inputs: [{ input_id: "input_image", node_id: "1", input_name: "image", type: "image" }],
    });
    const queueOnB = () =>
      call<{ run_id: string; queue_position: number | null }>(
        worker,
        user,
        "POST",
        "/api/run/deployment/queue",
        {
          deployment_id: pinnedToB.id,
          inputs: { input_image: fileId },
        },
      );
    const bSims = sims.slice(2) as [ComfySimulator, ComfySimulator];
    const holds = bSims.map((s) => s.holdNode("ImageInvert"));
    const first = await queueOnB();
    const busy = await Promise.race(holds.map((hold, i) => hold.reached().then(() => i)));
    const task = await call<{ data: { instanceId: string } }>(
      worker,
      user,
      "GET",
      `/api/tasks/${first.run_id}`,
    );
    const drained = task.data.instanceId;
    await call(worker, user, "PUT", `/api/instances/${drained}`, { enabled: false });
    holds[busy]?.release();
    await ended("task_completed", first.run_id);
    const second = await queueOnB();
    await holds[1 - busy]?.reached();
    // Dispatch happens within the enqueue: a run still waiting after it found no slot it may use.
    const third = await queueOnB();
    expect(third.queue_position).toBe(0);
    await call(worker, user, "PUT", `/api/instances/${drained}`, { enabled: true });
    await ended("task_completed", third.run_id);
    const thirdTask = await call<{ data: { instanceId: string } }>(
      worker,
      user,
      "GET",
      `/api/tasks/${third.run_id}`,
    );
    expect(thirdTask.data.instanceId).toBe(drained);
    holds[1 - busy]?.release();
    await ended("task_completed", second.run_id);
    const secondTask = await call<{ data: { instanceId: string } }>(
      worker,
      user,
      "GET",
      `/api/tasks/${second.run_id}`,
    );
    expect(secondTask.data.instanceId).not.toBe(drained);
    socket.ws.close();
    await Promise.all(agents.map((agent) => agent.stop("SIGKILL")));
    await Promise.all(sims.map((s) => s.close()));
  });
});
