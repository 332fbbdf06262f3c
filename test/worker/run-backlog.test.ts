import { describe, expect, it } from "vitest";
import { api } from "../helpers/http";
import { createMachine, executeRun } from "../helpers/runs";
import { TestAgent } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

const RUNS = 500;
const rank = { high: 2, normal: 1, low: 0 } as const;

describe("backlog", () => {
  it("dispatches 500 runs queued with no agent, in priority order, none lost and none twice", async () => {
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
    await Promise.all(
      agents.map(async (agent) => {
        let handled = 0;
        while (seen.length < RUNS) {
          const job = await agent.next("job", handled, 20_000).catch(() => undefined);
          if (!job) break;
          handled += 1;
          seen.push(job.run_id);
          await agent.report(job, { kind: "succeeded", outputs: [] });
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
