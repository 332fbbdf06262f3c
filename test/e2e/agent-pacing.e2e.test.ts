import { afterEach, describe, expect, it } from "vitest";
import { startComfySimulator } from "../../gpu-agent/sim/simulator";
import { startAgent } from "./support/agent";
import * as api from "./support/api";
import { sharedWorker } from "./support/worker";

const worker = sharedWorker();
const cleanup: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop().catch(() => undefined);
});

const STEPS = 1000;

/** Two sampler-like nodes of `STEPS` progress steps each, with a preview per step. */
const progressGraph = {
  "1": { class_type: "EmptyImage", inputs: { width: 16, height: 16, batch_size: 1, color: 0 } },
  "2": { class_type: "CRTestProgressPreview", inputs: { image: ["1", 0], steps: STEPS, delay: 0 } },
  "3": { class_type: "CRTestProgressPreview", inputs: { image: ["2", 0], steps: STEPS, delay: 0 } },
  "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: "paced" } },
};

describe("an agent relaying every progress event (--progress-throttle-ms 0)", () => {
  it("never goes over its link's budget, and the run succeeds", async () => {
    const user = await worker.createUser("e2e-pacing");
    const call = <T>(method: string, path: string, body?: unknown) =>
      api.call<T>(worker, user, method, path, body);
    const sim = await startComfySimulator({ stepMs: 0 });
    cleanup.push(() => sim.close());
    const machine = await call<{ token: string }>("POST", "/api/machine/custom", { name: "e2e-pacing" });
    const agent = await startAgent({
      server: worker.url,
      token: machine.token,
      comfy: sim.url,
      progressThrottleMs: 0,
    });
    cleanup.push(() => agent.stop("SIGKILL"));
    await agent.connected();

    const workflow = await call<{ id: string }>("POST", "/api/workflow", {
      name: "progress",
      workflow_api: progressGraph,
    });
    const deployment = await call<{ id: string }>("POST", "/api/deployment", {
      workflow_id: workflow.id,
      environment: "production",
      inputs: [],
    });
    const { run_id } = await call<{ run_id: string }>("POST", "/api/run/deployment/queue", {
      deployment_id: deployment.id,
    });
    const run = await api.waitForStatus(worker, user, run_id, ["success", "failed"], 60_000);
    expect(run.status).toBe("success");
    expect(agent.logs()).not.toMatch(/over this link's budget/);
  }, 90_000);
});
