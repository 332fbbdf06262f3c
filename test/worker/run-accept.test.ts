import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createDb } from "../../src/db/client";
import type { RunRow } from "../../src/db/schema";
import { Dispatcher } from "../../src/durable/dispatcher";
import type { NewJob } from "../../src/durable/dispatcher/job-queue";
import { type HeldRow, UnrecordedRuns } from "../../src/durable/dispatcher/unrecorded-runs";
import { findRunById } from "../../src/stores/runs";
import { dispatcherOf } from "../helpers/dispatcher";
import { api } from "../helpers/http";
import { createMachine, demoGraph, executeRun, getRunStatus } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser, type TestUser } from "../helpers/users";

const jobFor = (userId: string, runId: string): NewJob => ({
  runId,
  userId,
  priority: 1,
  attempt: 1,
  deadlineAt: null,
  payload: {
    graph: demoGraph,
    bindings: [],
    inputs: {},
    input_urls: {},
    machine_id: null,
    gpu: null,
    models: [],
  },
});

/** The row as the Worker hands it over: the graph and bindings travel in the job only. */
const heldRow = (userId: string, runId: string): HeldRow => ({
  id: runId,
  userId,
  pool: "default",
  priority: 1,
  inputs: {},
  origin: "execution",
});
const NO_AGENT = { code: "no_machine_online", message: "no machine" };

/** Queues a job with its row straight on the Dispatcher; resolves to its answer, or to the error it threw. */
const enqueueDirect = (userId: string, runId: string): Promise<unknown> =>
  (
    dispatcherOf(userId).enqueue(jobFor(userId, runId), heldRow(userId, runId), NO_AGENT) as Promise<unknown>
  ).catch((error: Error) => error);

/**
 * What a restart between storing a job and writing its row leaves: the job (already on its agent) and
 * the row held beside it, as the Dispatcher holds it; then a new isolate starts on the same storage.
 */
const restartHoldingRow = (userId: string, row: HeldRow) =>
  runInDurableObject(dispatcherOf(userId), (_d: Dispatcher, state) => {
    new UnrecordedRuns(state.storage.sql).hold(row);
    new Dispatcher(state, env);
  });

/** A run queued straight on the Dispatcher, its job already on a connected agent. */
async function jobOnAgent() {
  const user = await createUser();
  const agent = await TestAgent.connect((await createMachine(user)).token);
  const runId = crypto.randomUUID();
  await enqueueDirect(user.id, runId);
  return { user, agent, runId, job: await agent.job(runId) };
}

const storedRun = async (runId: string) => (await findRunById(createDb(env.DB), runId)) as RunRow;

/** The runs the Dispatcher still holds a row for in its storage. */
const heldIds = (userId: string) =>
  runInDurableObject(dispatcherOf(userId), (_d: Dispatcher, state) =>
    state.storage.sql
      .exec<{ run_id: string }>("SELECT run_id FROM unrecorded_runs")
      .toArray()
      .map((row) => row.run_id),
  );

/** A run whose row exists and whose job has left the queue: enqueuing its id again cannot write the row. */
async function cancelledRun(user: TestUser) {
  const runId = await executeRun(user);
  expect((await api(`/api/run/${runId}/cancel`, { method: "POST", token: user.apiKey })).status).toBe(200);
  expect(await dispatcherOf(user.id).stats()).toMatchObject({ queued: 0, leased: 0 });
  return runId;
}

describe("the Dispatcher as a run's first durable home", () => {
  it("answers the queue call only once the run's row exists, and the row is the caller's alone", async () => {
    const user = await createUser();
    const other = await createUser();
    const runId = await executeRun(user);
    expect((await getRunStatus(user, runId)).status).toBe("not-started");
    expect((await api(`/api/run/${runId}`, { token: other.apiKey })).status).toBe(404);
  });

  it("writes the row it is handed, with the job's graph, and returns it with the queue's answer", async () => {
    const user = await createUser();
    const runId = crypto.randomUUID();
    const queued = (await enqueueDirect(user.id, runId)) as { run: Record<string, unknown> };
    expect(queued).toMatchObject({ position: 0, run: { id: runId, status: "not-started" } });
    // The caller holds what it wrote as JSON; it is not read back and sent again.
    expect(queued.run).not.toHaveProperty("graph");
    expect(queued.run).not.toHaveProperty("inputs");
    const stored = await storedRun(runId);
    expect(stored).toMatchObject({ userId: user.id, graph: demoGraph, bindings: [], inputs: {} });
    // No agent was connected: the row says so from its first write.
    expect(stored.warnings).toEqual([NO_AGENT]);
    expect(queued.run.warnings).toEqual([NO_AGENT]);
  });

  it("adds no warning of a missing machine while an agent is connected", async () => {
    const { agent, runId } = await jobOnAgent();
    expect((await storedRun(runId)).warnings).toBeNull();
    agent.close();
  });

  it("takes a waiting job back when its row cannot be written", async () => {
    const user = await createUser();
    const runId = await cancelledRun(user);
    const stub = dispatcherOf(user.id);
    const refused = await enqueueDirect(user.id, runId);
    expect(String(refused)).toMatch(/Failed query: insert into "runs"/);
    // Let go with the job, so no restart can write the row its caller was told failed.
    expect(await heldIds(user.id)).toEqual([]);
    expect(await stub.stats()).toMatchObject({ queued: 0, leased: 0, stopping: 0 });
    expect((await storedRun(runId)).status).toBe("cancelled");
  });

  it("stops a job already sent to an agent when its row cannot be written", async () => {
    const user = await createUser();
    const runId = await cancelledRun(user);
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const stub = dispatcherOf(user.id);
    const refused = await enqueueDirect(user.id, runId);
    expect(String(refused)).toMatch(/Failed query: insert into "runs"/);
    expect(await heldIds(user.id)).toEqual([]);
    const job = await agent.job(runId);
    const cancel = await agent.next("cancel");
    expect(cancel).toMatchObject({ run_id: runId, lease_token: job.lease_token, reason: "cancelled" });
    expect((await agent.report(job, { kind: "cancelled" })).status).toBe("ok");
    expect(await stub.stats()).toMatchObject({ queued: 0, leased: 0, stopping: 0 });
    expect((await storedRun(runId)).status).toBe("cancelled");
    agent.close();
  });

  it("writes the row of a job already sent when a restart came before the row, and the run goes on", async () => {
    const { user, agent, runId, job } = await jobOnAgent();
    await env.DB.prepare("DELETE FROM runs WHERE id = ?").bind(runId).run();
    await restartHoldingRow(user.id, heldRow(user.id, runId));
    await vi.waitFor(async () => expect(await findRunById(createDb(env.DB), runId)).toBeDefined());
    expect((await agent.report(job, { kind: "accepted", prompt_id: "p-1" })).status).toBe("ok");
    expect((await agent.report(job, { kind: "succeeded", outputs: [] })).status).toBe("ok");
    // The held row leaves out what the job stores: the graph is written from the job's payload.
    expect(await storedRun(runId)).toMatchObject({ userId: user.id, status: "success", promptId: "p-1" });
    expect((await storedRun(runId)).graph).toEqual(demoGraph);
    agent.close();
  });

  it("keeps a row written just before the restart, and the job with it", async () => {
    const { user, agent, runId, job } = await jobOnAgent();
    expect((await agent.report(job, { kind: "accepted", prompt_id: "p-1" })).status).toBe("ok");
    await restartHoldingRow(user.id, heldRow(user.id, runId));
    await vi.waitFor(async () => expect(await heldIds(user.id)).toEqual([]));
    expect(await dispatcherOf(user.id).stats()).toMatchObject({ leased: 1 });
    expect((await agent.report(job, { kind: "succeeded", outputs: [] })).status).toBe("ok");
    expect(await storedRun(runId)).toMatchObject({ status: "success", promptId: "p-1" });
    agent.close();
  });

  it("deletes a let-go hold by itself when no other storage write comes to carry it", async () => {
    const user = await createUser();
    const runId = crypto.randomUUID();
    await enqueueDirect(user.id, runId);
    // Nothing else happens in this queue: the delete cannot ride on a later hold, end or alarm.
    await vi.waitFor(async () => expect(await heldIds(user.id)).toEqual([]), { timeout: 5_000 });
    expect(await storedRun(runId)).toMatchObject({ userId: user.id, status: "not-started" });
    expect(await dispatcherOf(user.id).stats()).toMatchObject({ queued: 1 });
  });

  it("applies a report sent the moment the job arrives, after the row it waited for", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    agent.onJob = (job) =>
      agent.send({
        type: "report",
        event_id: `evt-${job.run_id}`,
        run_id: job.run_id,
        lease_token: job.lease_token,
        at: Date.now(),
        report: { kind: "accepted", prompt_id: "p-1" },
      });
    const runId = crypto.randomUUID();
    await enqueueDirect(user.id, runId);
    const ack = await agent.until(() => agent.all("ack").find((a) => a.event_id === `evt-${runId}`), "ack");
    expect(ack.status).toBe("ok");
    expect(await storedRun(runId)).toMatchObject({ status: "queued", promptId: "p-1" });
    agent.close();
  });
});
