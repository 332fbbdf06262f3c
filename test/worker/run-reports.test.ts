import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Dispatcher } from "../../src/durable/dispatcher";
import type { Progress, RunOutput } from "../../src/protocol/v1";
import { dispatcherOf, expireAndRunAlarm } from "../helpers/dispatcher";
import { api, BASE } from "../helpers/http";
import { createMachine, executeRun, getRunStatus } from "../helpers/runs";
import { progress, TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

type Snapshot = { status: string; progress: Progress | null; error: { code: string } | null };

/** The snapshot a subscriber gets first over the run's WebSocket. */
async function wsSnapshot(user: TestUser, runId: string): Promise<Snapshot> {
  const res = await exports.default.fetch(`${BASE}/api/run/${runId}/ws`, {
    headers: { Upgrade: "websocket", Authorization: `Bearer ${user.apiKey}` },
  });
  const ws = res.webSocket!;
  const first = new Promise<Snapshot>((resolve) =>
    ws.addEventListener("message", (e) => resolve(JSON.parse(e.data as string).data), { once: true }),
  );
  ws.accept();
  return first;
}

/** The snapshot an SSE subscriber gets first. */
async function sseSnapshot(user: TestUser, runId: string): Promise<Snapshot> {
  const res = await exports.default.fetch(`${BASE}/api/run/${runId}/events`, {
    headers: { Authorization: `Bearer ${user.apiKey}` },
  });
  const text = await res.text();
  const frame = text.split("\n\n").find((f) => f.includes("event: snapshot"))!;
  return JSON.parse(frame.slice(frame.indexOf("data: ") + 6)).data;
}

const executionStatus = async (user: TestUser, runId: string) =>
  (await api<{ progress: { percentage: number } }>(`/api/workflows/${runId}/status`, { token: user.apiKey }))
    .body;

async function leasedRun() {
  const user = await createUser();
  const agent = await TestAgent.connect((await createMachine(user)).token);
  const runId = await executeRun(user);
  const job = await agent.job(runId);
  await agent.report(job, { kind: "started" });
  return { user, agent, runId, job };
}

async function grantUpload(agent: TestAgent, job: { run_id: string; lease_token: string }, name: string) {
  const request_id = `upload-${crypto.randomUUID()}`;
  agent.send({
    type: "upload_request",
    request_id,
    run_id: job.run_id,
    lease_token: job.lease_token,
    files: [{ name, content_type: "image/png", size: 3 }],
  });
  const grant = await agent.until(
    () => agent.all("upload_urls").find((m) => m.request_id === request_id),
    request_id,
  );
  return grant.files[0]!;
}

const imageOutput = (key: string): RunOutput => ({
  node_id: "3",
  kind: "images",
  filename: "a.png",
  subfolder: "",
  type: "output",
  content_type: "image/png",
  size: 3,
  key,
});

const outputFiles = async (user: TestUser) =>
  (await api<{ total: number }>("/api/files?purpose=output", { token: user.apiKey })).body.total;

describe("a finished run's progress", () => {
  it("reads complete in its final status event, its WebSocket and SSE snapshots, and every view", async () => {
    const { user, agent, runId, job } = await leasedRun();
    await agent.report(job, progress(70.6));
    await agent.report(job, { kind: "succeeded", outputs: [] });
    for (const snapshot of [await wsSnapshot(user, runId), await sseSnapshot(user, runId)]) {
      expect(snapshot.status).toBe("success");
      expect(snapshot.progress).toMatchObject({ percentage: 100, eta_seconds: 0, current_node: null });
    }
    const run = await api<{ progress: number }>(`/api/run/${runId}`, { token: user.apiKey });
    expect(run.body.progress).toBe(1);
    expect((await executionStatus(user, runId)).progress.percentage).toBe(100);
    agent.close();
  });

  it("keeps a failed run's latest progress, the same in its snapshot and in D1", async () => {
    const { user, agent, runId, job } = await leasedRun();
    // The second update falls inside the row's write interval, so only the lifecycle's final write records it.
    await agent.report(job, progress(10));
    await agent.report(job, progress(50));
    await agent.report(job, {
      kind: "failed",
      error: { code: "execution_error", message: "boom" },
    });
    expect((await wsSnapshot(user, runId)).progress?.percentage).toBe(50);
    expect((await executionStatus(user, runId)).progress.percentage).toBe(50);
    agent.close();
  });
});

describe("output keys", () => {
  it("records an output at a key granted for the run's lease", async () => {
    const { user, agent, runId, job } = await leasedRun();
    const grant = await grantUpload(agent, job, "a.png");
    expect(grant.key).toContain(`/${runId}/1/`);
    expect((await agent.report(job, { kind: "succeeded", outputs: [imageOutput(grant.key)] })).status).toBe(
      "ok",
    );
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("success");
    agent.close();
  });

  it("records a success's log lines with it: in the run's logs, and on its socket just before the status", async () => {
    const { user, agent, runId, job } = await leasedRun();
    const grant = await grantUpload(agent, job, "a.png");
    await agent.report(job, { kind: "log", level: "INFO", message: "running" });
    const res = await exports.default.fetch(`${BASE}/api/run/${runId}/ws?after=0`, {
      headers: { Upgrade: "websocket", Authorization: `Bearer ${user.apiKey}` },
    });
    const ws = res.webSocket!;
    const frames: { type: string; data: { message?: string; status?: string } }[] = [];
    const closed = new Promise((resolve) => ws.addEventListener("close", resolve));
    ws.addEventListener("message", (e) => frames.push(JSON.parse(e.data as string)));
    ws.accept();
    const logs = [
      { level: "INFO" as const, message: "uploaded 1 output file(s), 3 bytes" },
      { level: "WARNING" as const, message: "slow storage", node_id: "3" },
    ];
    const ack = await agent.report(job, { kind: "succeeded", outputs: [imageOutput(grant.key)], logs });
    expect(ack.status).toBe("ok");
    await closed;
    expect(frames.slice(-3).map((f) => f.data.message ?? f.data.status)).toEqual([
      "uploaded 1 output file(s), 3 bytes",
      "slow storage",
      "success",
    ]);
    const stored = await api<{ logs: { message: string; level: string; node_id: string | null }[] }>(
      `/api/workflows/${runId}/logs`,
      { token: user.apiKey },
    );
    expect(stored.body.logs.map((l) => [l.level, l.message])).toEqual([
      ["INFO", "running"],
      ["INFO", "uploaded 1 output file(s), 3 bytes"],
      ["WARNING", "slow storage"],
    ]);
    const other = await createUser();
    expect((await api(`/api/workflows/${runId}/logs`, { token: other.apiKey })).status).toBe(404);
    expect(await outputFiles(user)).toBe(1);
    agent.close();
  });

  it("refuses a success with more log lines than a report may carry, and records none of it", async () => {
    const { user, agent, runId, job } = await leasedRun();
    const grant = await grantUpload(agent, job, "a.png");
    const logs = Array.from({ length: 21 }, (_, i) => ({ level: "INFO" as const, message: `line ${i}` }));
    agent.send({
      type: "report",
      event_id: `evt-${crypto.randomUUID()}`,
      run_id: job.run_id,
      lease_token: job.lease_token,
      at: Date.now(),
      report: { kind: "succeeded", outputs: [imageOutput(grant.key)], logs },
    });
    const refusal = await agent.until(
      () => agent.all("error").find((m) => m.code === "invalid_message"),
      "the refusal",
    );
    expect(refusal.message).toContain("logs");
    expect((await getRunStatus(user, runId)).status).toBe("running");
    expect(await outputFiles(user)).toBe(0);
    agent.close();
  });

  it("refuses a success naming a key it was not granted, records nothing and fails the run", async () => {
    const { user, agent, runId, job } = await leasedRun();
    const victim = await createUser();
    await grantUpload(agent, job, "a.png");
    const forged = `outputs/${victim.id}/some-run/1/a.png`;
    const ack = await agent.report(job, { kind: "succeeded", outputs: [imageOutput(forged)] });
    expect(ack.status).toBe("stale");
    const error = agent.all("error").find((e) => e.request_id === ack.event_id);
    expect(error).toMatchObject({ code: "forged_output_key" });
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ code: "forged_output_key" });
    expect(run.outputs).toEqual([]);
    for (const owner of [user, victim]) {
      const files = await api<{ total: number }>("/api/files?purpose=output", { token: owner.apiKey });
      expect(files.status).toBe(200);
      expect(files.body.total).toBe(0);
    }
    agent.close();
  });
});

describe("a report that fails to apply", () => {
  it("answers an error frame and ends the run failed instead of leaving it running", async () => {
    const { user, agent, runId, job } = await leasedRun();
    await runInDurableObject(dispatcherOf(user.id), (instance: Dispatcher) => {
      const runs = (instance as unknown as { runs: { apply: () => Promise<void> } }).runs;
      runs.apply = () => Promise.reject(new Error("D1 unavailable"));
    });
    const ack = await agent.report(job, { kind: "uploading" });
    expect(ack.status).toBe("stale");
    expect(agent.all("error").find((e) => e.request_id === ack.event_id)).toMatchObject({
      code: "report_failed",
    });
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ code: "report_failed" });
    agent.close();
  });

  it("keeps an end that D1 holds when announcing it fails: acked ok, the slot freed", async () => {
    const { user, agent, runId, job } = await leasedRun();
    const waiting = await executeRun(user);
    await runInDurableObject(dispatcherOf(user.id), (instance: Dispatcher) => {
      const runs = (instance as unknown as { runs: { apply: (...args: unknown[]) => Promise<unknown> } })
        .runs;
      const apply = runs.apply.bind(runs);
      runs.apply = async (...args) => {
        await apply(...args);
        throw new Error("RunRoom unavailable");
      };
    });
    const ack = await agent.report(job, { kind: "succeeded", outputs: [] });
    expect(ack.status).toBe("ok");
    expect(agent.all("error").find((e) => e.request_id === ack.event_id)).toBeUndefined();
    expect((await getRunStatus(user, runId)).status).toBe("success");
    expect((await agent.job(waiting)).instance_id).toBe(job.instance_id);
    agent.close();
  });
});

describe("cancel racing with upload and completion", () => {
  const cancel = (user: TestUser, runId: string) =>
    api<{ status: string }>(`/api/run/${runId}/cancel`, { method: "POST", token: user.apiKey });
  it("cancel first: the run ends cancelled and what its agent uploaded is deleted", async () => {
    const { user, agent, runId, job } = await leasedRun();
    await agent.report(job, { kind: "uploading" });
    const grant = await grantUpload(agent, job, "a.png");
    // The agent's PUT lands in R2 before it hears of the cancel.
    await env.BUCKET.put(grant.key, "png");
    expect((await cancel(user, runId)).body.status).toBe("cancelled");
    await agent.next("cancel");
    const ack = await agent.report(job, { kind: "succeeded", outputs: [imageOutput(grant.key)] });
    expect(ack.status).toBe("ok");
    expect(await env.BUCKET.head(grant.key)).toBeNull();
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("cancelled");
    expect(run.outputs ?? []).toEqual([]);
    expect(await outputFiles(user)).toBe(0);
    agent.close();
  });

  it("completion first: the run stays a success with its recorded file, and the cancel says so", async () => {
    const { user, agent, runId, job } = await leasedRun();
    await agent.report(job, { kind: "uploading" });
    const grant = await grantUpload(agent, job, "a.png");
    await env.BUCKET.put(grant.key, "png");
    await agent.report(job, { kind: "succeeded", outputs: [imageOutput(grant.key)] });
    expect((await cancel(user, runId)).body.status).toBe("success");
    expect(await env.BUCKET.head(grant.key)).not.toBeNull();
    expect(await outputFiles(user)).toBe(1);
    expect(agent.count("cancel")).toBe(0);
    agent.close();
  });

  it("grants no upload to a cancelled run", async () => {
    const { user, agent, runId, job } = await leasedRun();
    await cancel(user, runId);
    await agent.next("cancel");
    const request_id = `upload-${crypto.randomUUID()}`;
    agent.send({
      type: "upload_request",
      request_id,
      run_id: runId,
      lease_token: job.lease_token,
      files: [{ name: "a.png", content_type: "image/png", size: 3 }],
    });
    const refused = await agent.until(
      () => agent.all("error").find((m) => m.request_id === request_id),
      request_id,
    );
    expect(refused.code).toBe("stale_lease");
    expect(agent.all("upload_urls")).toEqual([]);
    agent.close();
  });

  it("a run that times out while uploading loses its uploaded objects too", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user, { timeout_minutes: 5 });
    const job = await agent.job(runId);
    const grant = await grantUpload(agent, job, "a.png");
    await env.BUCKET.put(grant.key, "png");
    await expireAndRunAlarm(user.id, { deadlines: true });
    await agent.next("cancel");
    await agent.report(job, { kind: "cancelled" });
    expect(await env.BUCKET.head(grant.key)).toBeNull();
    expect((await getRunStatus(user, runId)).status).toBe("timeout");
    agent.close();
  });
});
