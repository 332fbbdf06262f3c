import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComfySimulator, startComfySimulator } from "../../gpu-agent/sim/simulator";
import { invertGraph } from "../helpers/graphs";
import { startAgent } from "./support/agent";
import { type Received, startReceiver, type WebhookReceiver } from "./support/webhook-receiver";
import { type E2EUser, sharedWorker } from "./support/worker";

const worker = sharedWorker();
let receiver: WebhookReceiver;
const cleanup: (() => Promise<unknown>)[] = [];

/** `/flaky…` answers 500 twice then 200; `/hang…` never answers its first 3 requests; the rest 200. */
function answer(path: string, count: number) {
  if (path.startsWith("/flaky")) return count <= 2 ? 500 : 200;
  if (path.startsWith("/hang")) return count <= 3 ? null : 200;
  return 200;
}

beforeAll(async () => {
  receiver = await startReceiver(answer);
});

afterAll(async () => {
  for (const stop of cleanup.splice(0).reverse()) await stop().catch(() => undefined);
  await receiver?.close();
});

async function call<T>(user: E2EUser, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${worker.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A user with a known signing secret. */
async function userWithSecret(label: string) {
  const user = await worker.createUser(label);
  const { secret } = await call<{ secret: string }>(user, "POST", "/api/webhooks/secret/rotate");
  return { user, secret };
}

async function gpuHost(user: E2EUser): Promise<ComfySimulator> {
  const sim = await startComfySimulator({ stepMs: 20 });
  cleanup.push(() => sim.close());
  const machine = await call<{ token: string }>(user, "POST", "/api/machine/custom", { name: "e2e-gpu" });
  const agent = await startAgent({ server: worker.url, token: machine.token, comfy: sim.url });
  cleanup.push(() => agent.stop("SIGKILL"));
  return sim;
}

/** The invert graph saving under its own prefix, so ComfyUI's cache never skips its SaveImage. */
const uniqueGraph = (prefix: string) => ({
  ...invertGraph,
  "3": { ...invertGraph["3"], inputs: { ...invertGraph["3"].inputs, filename_prefix: prefix } },
});

const execute = (user: E2EUser, path: string, extra: Record<string, unknown> = {}) =>
  call<{ execution_id: string }>(user, "POST", "/api/workflows/execute", {
    workflow: uniqueGraph(path.slice(1)),
    webhook_url: `${receiver.url}${path}`,
    ...extra,
  }).then((r) => r.execution_id);

const at = (path: string) => (all: Received[]) => all.filter((r) => r.path === path);

/** Waits for a request at `path` whose payload has `event`, verifying every request there. */
async function eventAt(path: string, secret: string, event: string, timeoutMs?: number) {
  return receiver.until(
    (all) => {
      const payloads = at(path)(all).map((r) => receiver.verify(r, secret));
      const hit = payloads.find((p) => p.event === event);
      return hit ? { hit, payloads } : undefined;
    },
    `${event} at ${path}`,
    timeoutMs,
  );
}

describe("run webhooks, signed per Standard Webhooks", () => {
  it("a successful ComfyDeploy run with intermediate statuses: every status, then the run with outputs", async () => {
    const { user, secret } = await userWithSecret("cd");
    await gpuHost(user);
    const workflow = await call<{ id: string }>(user, "POST", "/api/workflow", {
      name: "invert",
      workflow_api: invertGraph,
    });
    const deployment = await call<{ id: string }>(user, "POST", "/api/deployment", {
      workflow_id: workflow.id,
      environment: "production",
    });
    const { run_id } = await call<{ run_id: string }>(user, "POST", "/api/run/deployment/queue", {
      deployment_id: deployment.id,
      webhook: `${receiver.url}/cd-success`,
      webhook_intermediate_status: true,
    });
    const { hit, payloads } = await eventAt("/cd-success", secret, "run.success");
    expect(hit).toMatchObject({ run_id, id: run_id, status: "success", webhook_intermediate_status: true });
    expect((hit.outputs as { data: { images: unknown[] } }[])[0]?.data.images).toHaveLength(1);
    expect(payloads.map((p) => p.event)).toEqual(expect.arrayContaining(["run.queued", "run.running"]));
    const ids = at("/cd-success")(receiver.received).map((r) => r.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("seed 004 runs: started and completed, failed, cancelled", async () => {
    const { user, secret } = await userWithSecret("seed");
    const sim = await gpuHost(user);
    const ok = await execute(user, "/ok");
    const done = await eventAt("/ok", secret, "workflow.completed");
    expect(done.hit).toMatchObject({
      execution_id: ok,
      status: "completed",
      timestamp: expect.any(String),
      workflow_result: { execution_id: ok, status: "completed", outputs: { images: [expect.anything()] } },
    });
    expect((done.hit.workflow_result as { duration_seconds: number }).duration_seconds).toBeGreaterThan(0);
    expect(done.payloads.map((p) => p.event)).toContain("workflow.started");

    sim.failNode("SaveImage", { times: 1 });
    const bad = await execute(user, "/failed");
    const failed = await eventAt("/failed", secret, "workflow.failed");
    expect(failed.hit).toMatchObject({ execution_id: bad, status: "failed" });

    const hold = sim.holdNode("SaveImage");
    const stopped = await execute(user, "/cancelled");
    await eventAt("/cancelled", secret, "workflow.started");
    await call(user, "POST", `/api/workflows/${stopped}/cancel`);
    const cancelled = await eventAt("/cancelled", secret, "workflow.cancelled");
    expect(cancelled.hit).toMatchObject({ execution_id: stopped, status: "cancelled" });
    hold.release();
  });
});

type Delivery = {
  id: string;
  status: string;
  attempts: number;
  attempt_log: { status_code: number | null; error: string | null }[];
};

/** Polls a run's delivery log until one delivery matches (the consumer records after the receiver answers). */
async function deliveryOf(user: E2EUser, runId: string, probe: (d: Delivery) => boolean) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const log = await call<{ deliveries: Delivery[] }>(user, "GET", `/api/run/${runId}/webhooks`);
    const found = log.deliveries.find(probe);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no matching delivery: ${JSON.stringify(log)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("delivery", () => {
  it("retries a 500 with the same webhook-id until the receiver takes it", async () => {
    const { user, secret } = await userWithSecret("flaky");
    const id = await execute(user, "/flaky");
    await call(user, "POST", `/api/workflows/${id}/cancel`);
    const three = await receiver.until((all) => {
      const got = at("/flaky")(all);
      return got.length >= 3 ? got : undefined;
    }, "three attempts at /flaky");
    expect(new Set(three.map((r) => r.headers["webhook-id"])).size).toBe(1);
    for (const request of three) expect(receiver.verify(request, secret)).toMatchObject({ execution_id: id });
    const delivered = await deliveryOf(user, id, (d) => d.status === "delivered");
    expect(delivered.id).toBe(three[0]?.headers["webhook-id"]);
    expect(delivered.attempt_log.map((a) => a.status_code)).toEqual([500, 500, 200]);
  });

  it("dead-letters a receiver that never answers, and redelivers on request", async () => {
    const { user, secret } = await userWithSecret("hang");
    const id = await execute(user, "/hang");
    await call(user, "POST", `/api/workflows/${id}/cancel`);
    await receiver.until((all) => (at("/hang")(all).length >= 3 ? true : undefined), "three attempts");
    const dead = await deliveryOf(user, id, (d) => d.status === "dead");
    expect(dead.attempts).toBe(3);
    expect(dead.attempt_log.every((a) => a.status_code === null && /timed out/.test(a.error ?? ""))).toBe(
      true,
    );

    await call(user, "POST", `/api/webhooks/deliveries/${dead.id}/redeliver`);
    const fourth = await receiver.until((all) => at("/hang")(all)[3], "the redelivery at /hang");
    expect(fourth.headers["webhook-id"]).toBe(dead.id);
    expect(receiver.verify(fourth, secret)).toMatchObject({ event: "workflow.cancelled" });
  });

  it("refuses an SSRF URL at submit", async () => {
    const user = await worker.createUser("ssrf");
    const res = await fetch(`${worker.url}/api/workflows/execute`, {
      method: "POST",
      headers: { Authorization: `Bearer ${user.apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        workflow: invertGraph,
        webhook_url: "http://169.254.169.254/latest/meta-data/",
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: "validation_error",
      details: [{ field: "webhook_url" }],
    });
  });
});
