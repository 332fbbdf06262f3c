import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createMachine, executeRun } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

/** Many times the agents' 8 slots, 20 of each priority: every run waits, and priorities interleave. */
const RUNS = 60;
const rank = { high: 2, normal: 1, low: 0 } as const;

describe("backlog", () => {
  it("dispatches a backlog queued with no agent, in priority order, none lost and none twice", async () => {
    const user = await createUser();
    const [m1, m2] = [await createMachine(user), await createMachine(user)];
    const priorities = new Map<string, number>();
    const levels = ["low", "normal", "high"] as const;
    for (let i = 0; i < RUNS; i++) {
      const level = levels[i % 3]!;
      priorities.set(await executeRun(user, { priority: level }), rank[level]);
    }
    const agents = [
      await TestAgent.connect(m1.token, { slots: 4 }),
      await TestAgent.connect(m2.token, { slots: 4 }),
    ];
    const seen: string[] = [];
    const allSeen = () => seen.length >= RUNS;
    await Promise.all(
      agents.map(async (agent) => {
        for (let handled = 0; ; handled++) {
          // The next job, or null once the agents together have seen every run.
          const job = await agent.until(
            () => agent.all("job")[handled] ?? (allSeen() ? null : undefined),
            `job #${handled + 1}`,
          );
          if (!job) return;
          seen.push(job.run_id);
          await agent.report(job, { kind: "succeeded", outputs: [] });
          if (allSeen()) for (const each of agents) each.recheck();
        }
      }),
    );
    expect(seen).toHaveLength(RUNS);
    expect(new Set(seen).size).toBe(RUNS);
    for (const agent of agents) {
      const order = agent.all("job").map((j) => priorities.get(j.run_id)!);
      expect(order).toEqual([...order].sort((a, b) => b - a));
    }
    const done = await api<{ total: number }>("/api/runs?status=success&limit=1", { token: user.apiKey });
    expect(done.body.total).toBe(RUNS);
    for (const agent of agents) agent.close();
  }, 120_000);
});
