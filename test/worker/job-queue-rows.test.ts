import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Dispatcher } from "../../src/durable/dispatcher";
import { JobQueue, type NewJob } from "../../src/durable/dispatcher/job-queue";

const payload = { graph: {}, inputs: {}, bindings: [], input_urls: {} } as unknown as NewJob["payload"];

const newJob = (runId: string): NewJob => ({
  runId,
  userId: "user-1",
  priority: 0,
  attempt: 1,
  deadlineAt: Date.now() + 3_600_000,
  payload,
});

const lease = (token: string) => ({ machineId: "machine-1", instanceId: "comfy-0", token, expiresAt: 1e15 });

const freshDispatcher = () => env.DISPATCHER.getByName(`rows-${crypto.randomUUID()}/default`);

/** Counts the statements run on the Dispatcher's storage. */
function countingSql(sql: SqlStorage) {
  let statements = 0;
  const counting = new Proxy(sql, {
    get(target, key) {
      if (key !== "exec") return Reflect.get(target, key);
      return (query: string, ...bindings: unknown[]) => {
        statements += 1;
        return target.exec(query, ...bindings);
      };
    },
  });
  return { sql: counting, statements: () => statements };
}

describe("the Dispatcher's queue rows", () => {
  it("reads a job on an agent as storage holds it after every change, from storage once", async () => {
    await runInDurableObject(freshDispatcher(), (_instance: Dispatcher, state) => {
      const counter = countingSql(state.storage.sql);
      const queue = new JobQueue(counter.sql);
      // A second queue on the same storage has read nothing yet: it reads what is stored.
      const stored = (runId: string) => new JobQueue(state.storage.sql).get(runId);
      queue.add(newJob("run-1"));
      expect(queue.get("run-1")).toEqual(stored("run-1"));

      queue.lease("run-1", lease("token-1"));
      expect(queue.get("run-1")).toEqual(stored("run-1"));
      expect(queue.get("run-1")?.state).toBe("leased");
      const before = counter.statements();
      queue.get("run-1");
      expect(queue.holds("run-1", "token-1")).toBe(true);
      expect(counter.statements()).toBe(before);

      expect(queue.renew("run-1", "token-1", 2e15)).toBe(true);
      expect(queue.get("run-1")).toEqual(stored("run-1"));
      expect(queue.get("run-1")?.lease_expires_at).toBe(2e15);
      expect(queue.renew("run-1", "token-other", 3e15)).toBe(false);
      expect(queue.get("run-1")).toEqual(stored("run-1"));

      queue.requeue("run-1", 2);
      expect(queue.get("run-1")).toEqual(stored("run-1"));
      expect(queue.get("run-1")).toMatchObject({ state: "queued", attempt: 2, lease_token: null });

      queue.lease("run-1", lease("token-2"));
      queue.markStopping("run-1", "cancelled");
      expect(queue.get("run-1")).toEqual(stored("run-1"));
      expect(queue.get("run-1")).toMatchObject({ state: "stopping", stop_reason: "cancelled" });

      queue.graceLeases(5e15);
      expect(queue.get("run-1")).toEqual(stored("run-1"));
      expect(queue.get("run-1")?.lease_expires_at).toBe(5e15);

      queue.remove("run-1");
      expect(queue.get("run-1")).toBeUndefined();
      expect(stored("run-1")).toBeUndefined();
    });
  });

  it("remembers reports in storage only when asked, and a bounded number of the rest in memory", async () => {
    await runInDurableObject(freshDispatcher(), (_instance: Dispatcher, state) => {
      const queue = new JobQueue(state.storage.sql);
      queue.remember("log-1", true);
      for (let i = 0; i <= 4096; i++) queue.remember(`progress-${i}`, false);
      const stored = state.storage.sql
        .exec<{ event_id: string }>("SELECT event_id FROM seen_reports")
        .toArray()
        .map((row) => row.event_id);
      expect(stored).toEqual(["log-1"]);
      expect(queue.wasSeen("log-1")).toBe(true);
      // The oldest of the in-memory ones gave way to the newest.
      expect(queue.wasSeen("progress-0")).toBe(false);
      expect(queue.wasSeen("progress-1")).toBe(true);
      expect(queue.wasSeen("progress-4096")).toBe(true);
      // Storage outlives memory: a new queue on the same storage knows only what was written.
      const afterRestart = new JobQueue(state.storage.sql);
      expect(afterRestart.wasSeen("log-1")).toBe(true);
      expect(afterRestart.wasSeen("progress-4096")).toBe(false);
    });
  });
});
