import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { buildAgent, startAgent } from "./support/agent";
import { type RunningWorker, startWorker } from "./support/worker";

let worker: RunningWorker;
let sim: ComfySimulator;

beforeAll(async () => {
  await buildAgent();
  worker = await startWorker();
  sim = await startComfySimulator({ stepMs: 10 });
});

afterAll(async () => {
  await sim?.close();
  await worker?.stop();
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
