import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Dispatcher } from "../../src/durable/dispatcher";
import { dispatcherOf } from "../helpers/dispatcher";
import { createMachine, executeRun, getRunStatus } from "../helpers/runs";
import { progress, TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

type Lease = { lease_expires_at: number; attempt: number; state: string };

const leaseOf = (userId: string, runId: string) =>
  runInDurableObject(dispatcherOf(userId), (_d: Dispatcher, state) =>
    state.storage.sql
      .exec<Lease>("SELECT lease_expires_at, attempt, state FROM jobs WHERE run_id = ?", runId)
      .one(),
  );

/** The lease ran out while the control plane was down; then a new isolate starts on the same storage. */
const coldStartAfterOutage = (userId: string) =>
  runInDurableObject(dispatcherOf(userId), (_d: Dispatcher, state) => {
    state.storage.sql.exec("UPDATE jobs SET lease_expires_at = 1 WHERE state != 'queued'");
    new Dispatcher(state, env);
  });

const fireAlarm = async (userId: string) => {
  const stub = dispatcherOf(userId);
  await runInDurableObject(stub, (_d: Dispatcher, state) => state.storage.setAlarm(Date.now() + 60_000));
  await runDurableObjectAlarm(stub);
};

describe("control-plane restart", () => {
  it("gives agents a grace period to reclaim their leases before any is re-queued", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const agent = await TestAgent.connect(machine.token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    agent.close();

    const before = Date.now();
    await coldStartAfterOutage(user.id);
    expect((await leaseOf(user.id, runId)).lease_expires_at).toBeGreaterThanOrEqual(before + 15_000);
    await fireAlarm(user.id);
    expect(await leaseOf(user.id, runId)).toMatchObject({ state: "leased", attempt: 1 });

    const back = await TestAgent.open(machine.token);
    const welcome = await back.agent!.hello({
      inFlight: [{ run_id: runId, lease_token: job.lease_token, instance_id: "comfy-0" }],
    });
    expect(welcome).toMatchObject({ keep: [runId], drop: [] });
    expect((await back.agent!.report(job, { kind: "succeeded", outputs: [] })).status).toBe("ok");
    expect(await getRunStatus(user, runId)).toMatchObject({ status: "success", attempt: 1 });
    back.agent!.close();
  });

  it("extends a lease once: an agent that never comes back loses it after the grace", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    await agent.job(runId);
    agent.close();

    await coldStartAfterOutage(user.id);
    // The grace passed without a word from the agent, and the isolate starts again.
    await coldStartAfterOutage(user.id);
    await fireAlarm(user.id);
    expect(await leaseOf(user.id, runId)).toMatchObject({ state: "queued", attempt: 2 });
    expect((await getRunStatus(user, runId)).attempt).toBe(2);
  });

  it("gives a lease its grace again after its agent renewed it", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const agent = await TestAgent.connect(machine.token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    await coldStartAfterOutage(user.id);
    await agent.heartbeat([{ run_id: runId, lease_token: job.lease_token }]);
    // Barrier: the acked report was handled after the heartbeat that came before it.
    expect((await agent.report(job, progress(10))).status).toBe("ok");
    await coldStartAfterOutage(user.id);
    await fireAlarm(user.id);
    expect(await leaseOf(user.id, runId)).toMatchObject({ state: "leased", attempt: 1 });
    agent.close();
  });
});
