import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createDb } from "../../src/db/client";
import type { Dispatcher } from "../../src/durable/dispatcher";
import { AGENT_BUDGET, AgentBudget, AgentBudgets } from "../../src/durable/dispatcher/agent-budget";
import { CloseCode, type RunReport } from "../../src/protocol/v1";
import { appendLogs } from "../../src/stores/runs";
import { dispatcherOf } from "../helpers/dispatcher";
import { api } from "../helpers/http";
import { createMachine, executeRun, getRunStatus } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

const limits = { messages: 3, messagesPerSecond: 1, bytes: 100, bytesPerSecond: 10, refusalsBeforeClose: 4 };

describe("AgentBudget", () => {
  it("refuses past the message budget, refills with time, and closes after too many refusals, and forgives an agent that calms down", () => {
    let now = 0;
    const budget = new AgentBudget(limits, () => now);
    expect([budget.take(1), budget.take(1), budget.take(1), budget.take(1)]).toEqual([
      "ok",
      "ok",
      "ok",
      "refused",
    ]);
    now += 1000;
    expect([budget.take(1), budget.take(1), budget.take(1), budget.take(1)]).toEqual([
      "ok",
      "refused",
      "refused",
      "close",
    ]);
    now += 3000;
    expect(budget.take(1)).toBe("ok");
  });

  it("refuses past the byte budget", () => {
    let now = 0;
    const budget = new AgentBudget(limits, () => now);
    expect([budget.take(60), budget.take(60)]).toEqual(["ok", "refused"]);
    now += 2000;
    expect(budget.take(60)).toBe("ok");
  });
});

async function logRows(runId: string) {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM run_logs WHERE run_id = ?")
    .bind(runId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("the welcome", () => {
  it("states the connection's budget, the one the Dispatcher enforces", async () => {
    const alice = await createUser("alice");
    const agent = await TestAgent.connect((await createMachine(alice)).token);
    expect(agent.all("welcome")[0]?.budget).toEqual({
      messages: AGENT_BUDGET.messages,
      messages_per_second: AGENT_BUDGET.messagesPerSecond,
      bytes: AGENT_BUDGET.bytes,
      bytes_per_second: AGENT_BUDGET.bytesPerSecond,
    });
    agent.close();
  });
});

describe("a flooding agent", () => {
  it("gets 2,000 8 KB log reports refused past its budget and is closed, while another tenant's run goes through", async () => {
    const alice = await createUser("alice");
    const bob = await createUser("bob");
    const flooder = await TestAgent.connect((await createMachine(alice)).token);
    const aliceRun = await executeRun(alice);
    const job = await flooder.job(aliceRun);
    // The Dispatcher's budgets on a clock that stands still: nothing refills during the flood, however
    // fast or slow the machine works through it, so exactly the burst is applied and the refusals that
    // follow close the socket. Refilling is the budget's own test above, on its clock.
    const frozenAt = Date.now();
    await runInDurableObject(dispatcherOf(alice.id), (instance: Dispatcher) => {
      (instance as unknown as { budgets: AgentBudgets }).budgets = new AgentBudgets(
        AGENT_BUDGET,
        () => frozenAt,
      );
    });
    const message = "x".repeat(8 * 1024);
    for (let i = 0; i < 2000; i++) {
      flooder.send({
        type: "report",
        event_id: `flood-${i}`,
        run_id: job.run_id,
        lease_token: job.lease_token,
        at: Date.now(),
        report: { kind: "log", level: "INFO", message },
      });
    }

    // Bob's whole round trip, started after the flood was sent.
    const bobAgent = await TestAgent.connect((await createMachine(bob)).token);
    const bobRun = await executeRun(bob);
    const bobJob = await bobAgent.job(bobRun);
    await bobAgent.report(bobJob, { kind: "started" });
    await bobAgent.report(bobJob, { kind: "succeeded", outputs: [] });
    expect((await getRunStatus(bob, bobRun)).status).toBe("success");

    await flooder.until(() => flooder.closedWith ?? undefined, "the flooder's socket closed", 80_000);
    expect(flooder.closedWith).toBe(CloseCode.over_budget);
    const refusals = flooder.all("error").filter((e) => e.code === "rate_limited").length;
    expect(refusals).toBe(AGENT_BUDGET.refusalsBeforeClose - 1);
    // Exactly the burst applied (the last writes may still be landing when the socket closes), and
    // everything acknowledged among it (an ack in flight when the socket closed may be lost).
    await vi.waitFor(async () => expect(await logRows(aliceRun)).toBe(AGENT_BUDGET.messages), {
      timeout: 30_000,
      interval: 50,
    });
    expect(flooder.count("ack")).toBeLessThanOrEqual(AGENT_BUDGET.messages);
    bobAgent.close();
  }, 100_000);
});

describe("an agent reporting on runs that are not its own", () => {
  it("changes nothing in another tenant's run, whatever lease it claims", async () => {
    const alice = await createUser("alice");
    const mallory = await createUser("mallory");
    const aliceAgent = await TestAgent.connect((await createMachine(alice)).token);
    const aliceRun = await executeRun(alice);
    const aliceJob = await aliceAgent.job(aliceRun);
    const intruder = await TestAgent.connect((await createMachine(mallory)).token);
    for (const lease_token of [aliceJob.lease_token, "lease_forged"]) {
      const reports: RunReport[] = [
        { kind: "log", level: "ERROR", message: "injected" },
        { kind: "failed", error: { code: "execution_error", message: "forged" } },
        { kind: "succeeded", outputs: [] },
      ];
      for (const report of reports) {
        const ack = await intruder.report({ run_id: aliceRun, lease_token }, report);
        expect(ack.status).toBe("stale");
      }
    }
    expect(await getRunStatus(alice, aliceRun)).toMatchObject({ status: "queued" });
    expect(await logRows(aliceRun)).toBe(0);
    aliceAgent.close();
    intruder.close();
  });
});

describe("logs per run", () => {
  it("keeps the newest lines and says how many were dropped", async () => {
    const user = await createUser();
    const runId = await executeRun(user);
    const db = createDb(env.DB);
    for (let i = 1; i <= 8; i++) await appendLogs(db, runId, [{ level: "INFO", message: `line ${i}` }], 5);
    const res = await api<{ logs: { message: string }[]; total_count: number; dropped_count: number }>(
      `/api/workflows/${runId}/logs`,
      { token: user.apiKey },
    );
    expect(res.body.logs.map((l) => l.message)).toEqual(["line 4", "line 5", "line 6", "line 7", "line 8"]);
    expect(res.body).toMatchObject({ total_count: 5, dropped_count: 3 });
  });
});
