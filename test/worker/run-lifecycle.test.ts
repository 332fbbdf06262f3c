import { describe, expect, it } from "vitest";
import { expireAndRunAlarm } from "../helpers/dispatcher";
import { api } from "../helpers/http";
import { createMachine, executeRun, getRunStatus } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

const cancel = (token: string, runId: string) => api(`/api/run/${runId}/cancel`, { method: "POST", token });

describe("cancel", () => {
  it("cancels a waiting run at once and never dispatches it", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const runId = await executeRun(user);
    const res = await cancel(user.apiKey, runId);
    expect(res.body).toMatchObject({ status: "cancelled", message: "Run cancelled" });
    const agent = await TestAgent.connect(machine.token);
    // Barrier: the agent's one slot takes the next run only if the cancelled one never held it.
    const next = await executeRun(user);
    await agent.job(next);
    expect(agent.all("job").map((j) => j.run_id)).toEqual([next]);
    agent.close();
  });

  it("tells the agent to stop a leased run, and a late success changes nothing", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    await agent.report(job, { kind: "started" });
    expect((await cancel(user.apiKey, runId)).body).toMatchObject({ status: "cancelled" });
    const stop = await agent.next("cancel");
    expect(stop).toMatchObject({ run_id: runId, lease_token: job.lease_token, reason: "cancelled" });
    await agent.report(job, { kind: "succeeded", outputs: [] });
    expect((await getRunStatus(user, runId)).status).toBe("cancelled");
  });

  it("keeps the slot busy until the agent confirms, then dispatches the next run", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const first = await executeRun(user);
    const job = await agent.job(first);
    const second = await executeRun(user);
    await cancel(user.apiKey, first);
    await agent.next("cancel");
    // Barrier: the ack of a later report comes after anything the cancel made the Dispatcher send.
    await agent.report(job, { kind: "started" });
    expect(agent.count("job")).toBe(1);
    await agent.report(job, { kind: "cancelled" });
    expect((await agent.job(second)).run_id).toBe(second);
    agent.close();
  });

  it("is idempotent and leaves finished runs alone", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    await agent.report(await agent.job(runId), { kind: "succeeded", outputs: [] });
    const res = await cancel(user.apiKey, runId);
    expect(res.body).toMatchObject({ status: "success", message: "Run already success" });
    const waiting = await executeRun(user);
    await agent.job(waiting);
    expect((await cancel(user.apiKey, waiting)).status).toBe(200);
    expect((await cancel(user.apiKey, waiting)).body).toMatchObject({ status: "cancelled" });
    agent.close();
  });
});

describe("leases", () => {
  it("re-queues a run whose lease expired and gives it to a second agent", async () => {
    const user = await createUser();
    const first = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    const lost = await first.job(runId);
    first.close();
    const second = await TestAgent.connect((await createMachine(user)).token);
    await expireAndRunAlarm(user.id, { leases: true });
    const retry = await second.job(runId);
    expect(retry.attempt).toBe(2);
    expect(retry.lease_token).not.toBe(lost.lease_token);
    expect((await getRunStatus(user, runId)).attempt).toBe(2);
    await second.report(retry, { kind: "succeeded", outputs: [] });
    expect((await getRunStatus(user, runId)).status).toBe("success");
    second.close();
  });

  it("fails a run after its last attempt with a clear error", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await agent.next("job", attempt - 1)).attempt).toBe(attempt);
      await expireAndRunAlarm(user.id, { leases: true });
    }
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ code: "lease_expired" });
    agent.close();
  });

  it("heartbeats renew leases; a reconnecting agent keeps the runs it lists", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const agent = await TestAgent.connect(machine.token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    agent.close();
    const back = await TestAgent.open(machine.token);
    const welcome = await back.agent!.hello({
      inFlight: [{ run_id: runId, lease_token: job.lease_token, instance_id: "comfy-0" }],
    });
    expect(welcome).toMatchObject({ keep: [runId], drop: [] });
    expect((await back.agent!.report(job, { kind: "succeeded", outputs: [] })).status).toBe("ok");
    back.agent!.close();
  });

  it("re-queues runs a restarted agent no longer has", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const agent = await TestAgent.connect(machine.token);
    const runId = await executeRun(user);
    await agent.job(runId);
    agent.close();
    const restarted = await TestAgent.connect(machine.token);
    const again = await restarted.job(runId);
    expect(again.attempt).toBe(2);
    restarted.close();
  });

  it("a released run goes to another slot", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token, { slots: 1 });
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    await agent.heartbeat([], { draining: true });
    await agent.report(job, { kind: "released", reason: "agent shutting down" });
    const other = await TestAgent.connect((await createMachine(user)).token);
    expect((await other.job(runId)).attempt).toBe(2);
    agent.close();
    other.close();
  });
});

describe("timeout", () => {
  it("ends a running run as timeout and tells the agent to stop", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user, { timeout_minutes: 1 });
    const job = await agent.job(runId);
    await agent.report(job, { kind: "started" });
    await expireAndRunAlarm(user.id, { deadlines: true });
    expect(await agent.next("cancel")).toMatchObject({ run_id: runId, reason: "timeout" });
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("timeout");
    await agent.report(job, { kind: "cancelled" });
    expect((await getRunStatus(user, runId)).status).toBe("timeout");
    agent.close();
  });

  it("times out a run still waiting for a machine", async () => {
    const user = await createUser();
    const runId = await executeRun(user, { timeout_minutes: 5 });
    await expireAndRunAlarm(user.id, { deadlines: true });
    expect((await getRunStatus(user, runId)).status).toBe("timeout");
  });
});
