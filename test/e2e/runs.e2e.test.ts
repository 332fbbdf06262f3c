import { createHash } from "node:crypto";
import { ComfyDeploy } from "comfydeploy";
import { afterEach, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { type RunningAgent, startAgent } from "./support/agent";
import * as api from "./support/api";
import { type E2EUser, sharedWorker } from "./support/worker";

const worker = sharedWorker();
const cleanup: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop().catch(() => undefined);
});

const call = <T>(user: E2EUser, method: string, path: string, body?: unknown) =>
  api.call<T>(worker, user, method, path, body);
const invertDeployment = (user: E2EUser) => api.invertDeployment(worker, user);
const uploadPng = (user: E2EUser, sim: ComfySimulator) => api.uploadPng(worker, user, sim);
const waitForStatus = (user: E2EUser, runId: string, statuses: string[], timeoutMs?: number) =>
  api.waitForStatus(worker, user, runId, statuses, timeoutMs);

/** A simulator and an agent for it, registered as a machine of `user`; both stopped after the test. */
async function gpuHost(user: E2EUser, stepMs = 30): Promise<{ sim: ComfySimulator; agent: RunningAgent }> {
  const sim = await startComfySimulator({ stepMs });
  cleanup.push(() => sim.close());
  const machine = await call<{ token: string }>(user, "POST", "/api/machine/custom", { name: "e2e-gpu" });
  // A ComfyUI that stops answering hands its run back after 3 s rather than 30 s.
  const agent = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url, comfyDownS: 3 });
  cleanup.push(() => agent.stop("SIGKILL"));
  return { sim, agent };
}

/** Queues a run of a fresh invert deployment on the simulator's example picture; returns its id. */
async function queueInvertRun(user: E2EUser, sim: ComfySimulator) {
  const deploymentId = await invertDeployment(user);
  const { run_id } = await call<{ run_id: string }>(user, "POST", "/api/run/deployment/queue", {
    deployment_id: deploymentId,
    inputs: { input_image: await uploadPng(user, sim) },
  });
  return run_id;
}

function subscribe(user: E2EUser, runId: string) {
  const ws = new WebSocket(`${worker.url.replace("http", "ws")}/api/run/${runId}/ws?token=${user.apiKey}`);
  const frames: { type: string; seq?: number; data: { status?: string } }[] = [];
  ws.addEventListener("message", (e) => frames.push(JSON.parse(String(e.data))));
  const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
  const opened = new Promise<void>((resolve) => ws.addEventListener("open", () => resolve()));
  return { frames, closed, opened };
}

const sha256 = (bytes: ArrayBuffer | Buffer) =>
  createHash("sha256")
    .update(Buffer.from(bytes as ArrayBuffer))
    .digest("hex");

describe("runs end to end: wrangler dev, the bundled agent, the ComfyUI simulator", () => {
  it("runs a deployment with an image input, streams progress, and serves the output from R2", async () => {
    const user = await worker.createUser("e2e");
    const { sim } = await gpuHost(user);
    const deploymentId = await invertDeployment(user);
    const fileId = await uploadPng(user, sim);
    const { run_id } = await call<{ run_id: string }>(user, "POST", "/api/run/deployment/queue", {
      deployment_id: deploymentId,
      inputs: { input_image: fileId },
    });
    const live = subscribe(user, run_id);
    await live.opened;
    const run = await waitForStatus(user, run_id, ["success", "failed"]);
    expect(run.error).toBeNull();
    await live.closed;
    expect(live.frames[0]?.type).toBe("snapshot");
    expect(live.frames.some((f) => f.type === "progress")).toBe(true);
    expect(live.frames.at(-1)).toMatchObject({ type: "status", data: { status: "success" } });

    const image = run.outputs[0]?.data.images?.[0];
    expect(image?.filename).toMatch(/^invert_\d+_\.png$/);
    const fromR2 = await fetch(image!.url);
    expect(fromR2.status).toBe(200);
    expect(fromR2.headers.get("content-type")).toBe("image/png");
    const fromComfy = await fetch(
      `${sim.url}/view?filename=${image!.filename}&subfolder=${image!.subfolder}&type=output`,
    );
    expect(sha256(await fromR2.arrayBuffer())).toBe(sha256(await fromComfy.arrayBuffer()));
  });

  it("cancels a running run: ComfyUI interrupts that prompt and the run ends cancelled", async () => {
    const user = await worker.createUser("e2e");
    const { sim } = await gpuHost(user);
    const hold = sim.holdNode("ImageInvert");
    const run_id = await queueInvertRun(user, sim);
    await hold.reached();
    await call(user, "POST", `/api/run/${run_id}/cancel`);
    await expect.poll(() => sim.counters.interrupts, { timeout: 10_000 }).toBeGreaterThan(0);
    hold.release();
    expect((await waitForStatus(user, run_id, ["cancelled", "success", "failed"])).status).toBe("cancelled");
    await expect.poll(() => sim.queue().running.length, { timeout: 10_000 }).toBe(0);
  });

  it("completes a run on a second agent after the first is killed with SIGKILL mid-run", async () => {
    const user = await worker.createUser("e2e");
    const first = await gpuHost(user);
    const hold = first.sim.holdNode("ImageInvert");
    const run_id = await queueInvertRun(user, first.sim);
    await hold.reached();
    await first.agent.stop("SIGKILL");
    await gpuHost(user);
    const run = await waitForStatus(user, run_id, ["success", "failed"], 45_000);
    expect(run.status).toBe("success");
    const detail = await call<{ attempt: number }>(user, "GET", `/api/run/${run_id}`);
    expect(detail.attempt).toBe(2);
    hold.release();
  });

  it("the comfydeploy SDK queues a run and reads it to success with outputs", async () => {
    const user = await worker.createUser("sdk");
    const { sim } = await gpuHost(user);
    const deploymentId = await invertDeployment(user);
    const fileId = await uploadPng(user, sim);
    const sdk = new ComfyDeploy({ bearer: user.apiKey, serverURL: `${worker.url}/api` });
    const queued = await sdk.run.deployment.queue({ deploymentId, inputs: { input_image: fileId } });
    let run = await sdk.run.get({ runId: queued.runId });
    for (let i = 0; i < 300 && !["success", "failed"].includes(run.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      run = await sdk.run.get({ runId: queued.runId });
    }
    expect(run.status).toBe("success");
    expect(run.outputs?.[0]?.data.images?.length).toBe(1);
  });
});
