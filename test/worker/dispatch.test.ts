import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createMachine, executeRun, getRunStatus } from "../helpers/runs";
import { progress, TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

describe("dispatch", () => {
  it("pushes a queued run to an idle agent at once, with a lease", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const agent = await TestAgent.connect(machine.token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    expect(job.lease_token).toMatch(/^lease_/);
    expect(job.attempt).toBe(1);
    expect(job.graph["2"]?.class_type).toBe("ImageInvert");
    await expect.poll(async () => (await getRunStatus(user, runId)).status).toBe("queued");
    agent.close();
  });

  it("follows a run through progress to success with text outputs", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    expect((await agent.report(job, { kind: "accepted", prompt_id: "p-1" })).status).toBe("ok");
    await agent.report(job, { kind: "started" });
    await agent.report(job, progress(50));
    await agent.report(job, { kind: "uploading" });
    const output = {
      node_id: "9",
      kind: "text" as const,
      filename: "caption.txt",
      subfolder: "",
      type: "output",
      content_type: "text/plain",
      size: 5,
      text: "hello",
    };
    await agent.report(job, { kind: "succeeded", outputs: [output] });
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("success");
    expect(run.outputs).toEqual([expect.objectContaining({ node_id: "9", data: { text: ["hello"] } })]);
    agent.close();
  });

  it("records a failure with the node, its type and the traceback", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    const error = {
      code: "execution_error" as const,
      message: "boom",
      node_id: "2",
      node_type: "ImageInvert",
      exception_type: "RuntimeError",
      traceback: ["line 1"],
    };
    await agent.report(job, { kind: "failed", error });
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject(error);
    agent.close();
  });

  it("keeps ComfyUI's refusal verbatim: its error type and node_errors", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    const nodeErrors = {
      "2": {
        errors: [{ type: "required_input_missing", message: "Required input is missing", details: "image" }],
        dependent_outputs: ["3"],
        class_type: "ImageInvert",
      },
    };
    const error = {
      code: "validation_error" as const,
      message: "Prompt outputs failed validation",
      node_errors: nodeErrors,
      comfy_error: {
        type: "prompt_outputs_failed_validation",
        message: "Prompt outputs failed validation",
        details: "",
        extra_info: {},
      },
    };
    await agent.report(job, { kind: "failed", error });
    const run = await getRunStatus(user, runId);
    expect(run.status).toBe("failed");
    expect(run.error).toEqual(error);
    agent.close();
  });

  it("refuses a report with a stale lease and ignores a duplicate completion", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    const stale = await agent.report({ run_id: runId, lease_token: "lease_forged" }, { kind: "started" });
    expect(stale.status).toBe("stale");
    expect((await getRunStatus(user, runId)).status).toBe("queued");

    await agent.report(job, { kind: "succeeded", outputs: [] }, "done-1");
    const again = await agent.report(
      job,
      { kind: "failed", error: { code: "agent_error", message: "late" } },
      "done-2",
    );
    expect(again.status).toBe("stale");
    const duplicate = await agent.report(job, { kind: "succeeded", outputs: [] }, "done-1");
    expect(duplicate.status).toBe("ok");
    expect((await getRunStatus(user, runId)).status).toBe("success");
    agent.close();
  });

  it("judges a report refused as stale again when the same event comes with the live lease", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const runId = await executeRun(user);
    const job = await agent.job(runId);
    const forged = { run_id: runId, lease_token: "lease_forged" };
    expect((await agent.report(forged, { kind: "started" }, "start-1")).status).toBe("stale");
    const resent = { type: "report", event_id: "start-1", run_id: runId, lease_token: job.lease_token };
    agent.send({ ...resent, at: Date.now(), report: { kind: "started" } });
    const startAcks = () => agent.all("ack").filter((ack) => ack.event_id === "start-1");
    await agent.until(() => (startAcks().length === 2 ? true : undefined), "the resent start's ack");
    expect(startAcks().map((ack) => ack.status)).toEqual(["stale", "ok"]);
    expect((await getRunStatus(user, runId)).status).toBe("running");
    agent.close();
  });

  it("dispatches waiting runs by priority, then age, when an agent connects", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const low = await executeRun(user, { priority: "low" });
    const normal1 = await executeRun(user);
    const high = await executeRun(user, { priority: "high" });
    const normal2 = await executeRun(user);
    const agent = await TestAgent.connect(machine.token);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const job = await agent.next("job", i);
      order.push(job.run_id);
      await agent.report(job, { kind: "succeeded", outputs: [] });
    }
    expect(order).toEqual([high, normal1, normal2, low]);
    agent.close();
  });

  it("gives each slot one job at a time", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token, { slots: 2 });
    const runs = [await executeRun(user), await executeRun(user), await executeRun(user)];
    const first = await agent.next("job", 0);
    const second = await agent.next("job", 1);
    expect(new Set([first.instance_id, second.instance_id])).toEqual(new Set(["comfy-0", "comfy-1"]));
    expect(agent.count("job")).toBe(2);
    await agent.report(first, { kind: "succeeded", outputs: [] });
    const third = await agent.next("job", 2);
    expect(third.run_id).toBe(runs[2]);
    expect(third.instance_id).toBe(first.instance_id);
    agent.close();
  });

  it("sends the next job to a slot freed by a run's end before that end is acknowledged", async () => {
    const user = await createUser();
    const agent = await TestAgent.connect((await createMachine(user)).token);
    const first = await executeRun(user);
    const second = await executeRun(user);
    const job = await agent.job(first);
    const ack = await agent.report(job, { kind: "succeeded", outputs: [] });
    expect(ack.status).toBe("ok");
    // The success is in D1 before the slot is freed, and the ack follows its announcement.
    const next = agent.received.findIndex((m) => m.type === "job" && m.run_id === second);
    expect(next).toBeGreaterThan(-1);
    expect(next).toBeLessThan(agent.received.indexOf(ack));
    expect((await getRunStatus(user, first)).status).toBe("success");
    agent.close();
  });
});

describe("agent link security", () => {
  it("refuses an API key, a user JWT and an unknown machine token", async () => {
    const user = await createUser();
    expect((await TestAgent.open(user.apiKey)).status).toBe(403);
    expect((await TestAgent.open(user.access)).status).toBe(403);
    expect((await TestAgent.open("ce_mach_unknown")).status).toBe(401);
  });

  it("answers 426 in the error envelope to a machine token without a WebSocket upgrade", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const res = await api<{ error: string; request_id: string }>("/api/agent/v1/connect", {
      token: machine.token,
    });
    expect(res.status).toBe(426);
    expect(res.body).toMatchObject({ error: "upgrade_required", request_id: expect.any(String) });
  });

  it("keeps machine tokens off client routes", async () => {
    const user = await createUser();
    const machine = await createMachine(user);
    const res = await api("/api/runs", { token: machine.token });
    expect(res.status).toBe(403);
  });

  it("never dispatches one tenant's run to another tenant's agent", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const bobAgent = await TestAgent.connect((await createMachine(bob)).token);
    const runId = await executeRun(alice);
    expect((await getRunStatus(alice, runId)).status).toBe("not-started");
    // Barrier: once alice's own agent holds the run's one lease, no other agent can get it.
    const aliceAgent = await TestAgent.connect((await createMachine(alice)).token);
    await aliceAgent.job(runId);
    expect(bobAgent.all("job").map((j) => j.run_id)).not.toContain(runId);
    bobAgent.close();
    aliceAgent.close();
  });
});
