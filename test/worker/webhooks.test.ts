import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { expireAndRunAlarm } from "../helpers/dispatcher";
import { api } from "../helpers/http";
import { createMachine, demoGraph } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type Endpoint = { id: string; url: string; events: string[]; enabled: boolean; secret?: string | null };
type Delivery = {
  id: string;
  event: string;
  status: string;
  attempts: number;
  endpoint_id: string | null;
  attempt_log: { attempt: number; status_code: number | null; error: string | null }[];
};

// Nothing listens on the discard port, so each attempt fails fast with a connection error.
const CLOSED_URL = "http://127.0.0.1:9/hook";

const createEndpoint = (user: TestUser, json: unknown) =>
  api<Endpoint>("/api/webhooks", { method: "POST", token: user.apiKey, json });

/** Polls the delivery log until `probe` finds what the queue consumer should have recorded. */
async function waitForDeliveries(path: string, user: TestUser, probe: (d: Delivery[]) => boolean) {
  const deadline = Date.now() + 25_000;
  for (;;) {
    const res = await api<{ deliveries: Delivery[] }>(path, { token: user.apiKey });
    if (res.status === 200 && probe(res.body.deliveries)) return res.body.deliveries;
    if (Date.now() > deadline) throw new Error(`deliveries never matched: ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("webhook endpoints", () => {
  it("are created, listed, read, changed and deleted by their owner only", async () => {
    const [owner, other] = [await createUser("owner"), await createUser("other")];
    const first = await createEndpoint(owner, { url: "https://example.com/a", events: ["run.success"] });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      url: "https://example.com/a",
      events: ["run.success"],
      enabled: true,
    });
    expect(first.body.secret).toMatch(/^whsec_/);
    const second = await createEndpoint(owner, { url: "https://example.com/b" });
    expect(second.body).toMatchObject({ events: ["*"], secret: null });

    const list = await api<{ endpoints: Endpoint[] }>("/api/webhooks", { token: owner.apiKey });
    expect(list.body.endpoints.map((e) => e.id).sort()).toEqual([first.body.id, second.body.id].sort());
    const othersList = await api<{ endpoints: Endpoint[] }>("/api/webhooks", { token: other.apiKey });
    expect(othersList.body.endpoints).toEqual([]);

    const id = first.body.id;
    const patched = await api<Endpoint>(`/api/webhooks/${id}`, {
      method: "PATCH",
      token: owner.apiKey,
      json: { events: ["run.failed", "machine.offline"], enabled: false },
    });
    expect(patched.body).toMatchObject({ events: ["run.failed", "machine.offline"], enabled: false });
    expect((await api(`/api/webhooks/${id}`, { token: owner.apiKey })).body).toMatchObject({
      enabled: false,
    });

    for (const [method, path] of [
      ["GET", `/api/webhooks/${id}`],
      ["PATCH", `/api/webhooks/${id}`],
      ["DELETE", `/api/webhooks/${id}`],
      ["GET", `/api/webhooks/${id}/deliveries`],
    ] as const) {
      const res = await api(path, { method, token: other.apiKey, json: method === "PATCH" ? {} : undefined });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await api(`/api/webhooks/${id}`, { method: "DELETE", token: owner.apiKey })).status).toBe(200);
    expect((await api(`/api/webhooks/${id}`, { token: owner.apiKey })).status).toBe(404);
  });

  it("refuses unsafe URLs, unknown events and anonymous callers", async () => {
    const user = await createUser();
    for (const url of ["http://169.254.169.254/latest/meta-data", "http://10.0.0.5/", "ftp://example.com/"]) {
      const res = await createEndpoint(user, { url });
      expect(res.status, url).toBe(400);
      expect(res.body).toMatchObject({ error: "validation_error", details: [{ field: "url" }] });
    }
    expect(
      (await createEndpoint(user, { url: "https://example.com", events: ["run.exploded"] })).status,
    ).toBe(400);
    expect((await api("/api/webhooks")).status).toBe(401);
  });

  it("rotates the tenant secret, showing it once", async () => {
    const user = await createUser();
    const a = await api<{ secret: string; previous_valid_until: string }>("/api/webhooks/secret/rotate", {
      method: "POST",
      token: user.apiKey,
    });
    const b = await api<{ secret: string }>("/api/webhooks/secret/rotate", {
      method: "POST",
      token: user.apiKey,
    });
    expect(a.body.secret).toMatch(/^whsec_/);
    expect(b.body.secret).toMatch(/^whsec_/);
    expect(b.body.secret).not.toBe(a.body.secret);
    expect(Date.parse(a.body.previous_valid_until)).toBeGreaterThan(Date.now());
  });
});

describe("per-run webhooks", () => {
  it("refuses an SSRF webhook URL at submit, in every dialect", async () => {
    const user = await createUser();
    const execute = await api("/api/workflows/execute", {
      method: "POST",
      token: user.apiKey,
      json: { workflow: demoGraph, webhook_url: "http://169.254.169.254/latest/meta-data" },
    });
    expect(execute.status).toBe(400);
    expect(execute.body).toMatchObject({ error: "validation_error", details: [{ field: "webhook_url" }] });
    const queue = await api("/api/run/deployment/queue", {
      method: "POST",
      token: user.apiKey,
      json: { deployment_id: "whatever", webhook: "http://192.168.0.10/hook" },
    });
    expect(queue.status).toBe(400);
    expect(queue.body).toMatchObject({ details: [{ field: "webhook" }] });
  });

  it("logs every attempt per run, retries until dead, redelivers, and stays private", async () => {
    const [user, other] = [await createUser(), await createUser()];
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const res = await api<{ execution_id: string }>("/api/workflows/execute", {
      method: "POST",
      token: user.apiKey,
      json: { workflow: demoGraph, webhook_url: CLOSED_URL },
    });
    const runId = res.body.execution_id;
    const job = await agent.job(runId);
    await agent.report(job, { kind: "started" });
    const path = `/api/run/${runId}/webhooks`;
    // WEBHOOK_MAX_ATTEMPTS is 2 in the test config: a connection error, one retry, then dead.
    const [dead] = await waitForDeliveries(path, user, (d) => d[0]?.status === "dead");
    expect(dead).toMatchObject({ event: "workflow.started", attempts: 2, endpoint_id: null });
    expect(dead?.attempt_log.map((a) => a.attempt)).toEqual([1, 2]);
    expect(dead?.attempt_log[0]).toMatchObject({
      status_code: null,
      error: expect.stringMatching(/connection/),
    });

    expect((await api(path, { token: other.apiKey })).status).toBe(404);
    const redeliverPath = `/api/webhooks/deliveries/${dead?.id}/redeliver`;
    expect((await api(redeliverPath, { method: "POST", token: other.apiKey })).status).toBe(404);
    const again = await api<Delivery>(redeliverPath, { method: "POST", token: user.apiKey });
    expect(again.status).toBe(202);
    const [redelivered] = await waitForDeliveries(path, user, (d) => d[0]?.attempts === 4);
    expect(redelivered).toMatchObject({ id: dead?.id, status: "dead" });
    agent.close();
  }, 30_000);
});

describe("a timed-out run's webhook", () => {
  it("posts workflow.timeout, signed with the tenant's secret, once the deadline passes", async () => {
    const user = await createUser();
    const secret = await api<{ secret: string }>("/api/webhooks/secret/rotate", {
      method: "POST",
      token: user.apiKey,
    });
    // The queue consumer runs in this isolate: its POSTs to the hook are answered here, the rest pass.
    const hook = `http://127.0.0.1:9/timeout-${user.id}`;
    const posted: { body: string; headers: Record<string, string> }[] = [];
    const realFetch = globalThis.fetch;
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      if ((input instanceof Request ? input.url : String(input)) !== hook) return realFetch(input, init);
      const request = new Request(input, init);
      posted.push({ body: await request.text(), headers: Object.fromEntries(request.headers) });
      return new Response("ok");
    });
    try {
      const agent = await TestAgent.connect((await createMachine(user)).token);
      const res = await api<{ execution_id: string }>("/api/workflows/execute", {
        method: "POST",
        token: user.apiKey,
        json: { workflow: demoGraph, webhook_url: hook, timeout_minutes: 1 },
      });
      const runId = res.body.execution_id;
      const job = await agent.job(runId);
      await agent.report(job, { kind: "started" });
      await expireAndRunAlarm(user.id, { deadlines: true });
      const payloads = await vi.waitFor(
        () => {
          const verified = posted.map((r) => new Webhook(secret.body.secret).verify(r.body, r.headers));
          const events = verified.map((p) => (p as { event: string }).event);
          expect(events).toContain("workflow.timeout");
          return verified;
        },
        { timeout: 25_000, interval: 50 },
      );
      expect(payloads.find((p) => (p as { event: string }).event === "workflow.timeout")).toMatchObject({
        execution_id: runId,
        status: "failed",
        workflow_result: { execution_id: runId, raw_status: "timeout" },
      });
      agent.close();
    } finally {
      spy.mockRestore();
    }
  });
});

describe("fleet events", () => {
  it("posts machine.online to subscribed endpoints when an agent says hello", async () => {
    const user = await createUser();
    const endpoint = await createEndpoint(user, { url: CLOSED_URL, events: ["machine.online"] });
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const path = `/api/webhooks/${endpoint.body.id}/deliveries`;
    const [delivery] = await waitForDeliveries(path, user, (d) => d.length > 0);
    expect(delivery).toMatchObject({ event: "machine.online", endpoint_id: endpoint.body.id });
    agent.close();
  });
});

describe("/api/doc", () => {
  it("documents the webhook routes, payloads, signatures, idempotency and limits", async () => {
    const doc = await api<{
      info: { description: string };
      paths: Record<string, unknown>;
      components: { schemas: Record<string, unknown> };
    }>("/api/doc");
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        "/api/webhooks",
        "/api/webhooks/{id}",
        "/api/webhooks/{id}/deliveries",
        "/api/webhooks/deliveries/{id}/redeliver",
        "/api/webhooks/secret/rotate",
        "/api/run/{run_id}/webhooks",
      ]),
    );
    expect(Object.keys(doc.body.components.schemas)).toEqual(
      expect.arrayContaining(["WebhookExecutionEvent", "WebhookEndpointEvent", "WebhookDelivery"]),
    );
    for (const term of ["webhook-signature", "Idempotency-Key", "X-RateLimit-Remaining", "Retry-After"])
      expect(doc.body.info.description).toContain(term);
  });
});
