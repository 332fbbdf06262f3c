import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Dispatcher } from "../../src/durable/dispatcher";
import { JobQueue, type NewJob } from "../../src/durable/dispatcher/job-queue";

const payload = { graph: {}, inputs: {}, bindings: [], input_urls: {} } as unknown as NewJob["payload"];

const newJob = (runId: string, priority = 0): NewJob => ({
  runId,
  userId: "user-1",
  priority,
  attempt: 1,
  deadlineAt: Date.now() + 3_600_000,
  payload,
});

/** The Dispatcher's SQLite storage, with a count of the rows every statement read. */
function countingSql(sql: SqlStorage) {
  const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
  const counting = new Proxy(sql, {
    get(target, key) {
      if (key !== "exec") return Reflect.get(target, key);
      return (query: string, ...bindings: unknown[]) => {
        const cursor = target.exec(query, ...bindings);
        cursors.push(cursor);
        return cursor;
      };
    },
  });
  const rowsRead = () => cursors.reduce((sum, cursor) => sum + cursor.rowsRead, 0);
  return { sql: counting, rowsRead, reset: () => cursors.splice(0) };
}

/** What a report and an enqueue read from the queue, besides the enqueued job itself. */
function readsPerReport(queue: JobQueue, counter: ReturnType<typeof countingSql>, newest: string) {
  counter.reset();
  const now = Date.now();
  queue.nextWakeUp();
  queue.busySlots();
  queue.expiredLeases(now);
  queue.pastDeadline(now);
  queue.leasedTo("machine-1");
  queue.position(newest);
  return counter.rowsRead();
}

const freshDispatcher = () => env.DISPATCHER.getByName(`backlog-${crypto.randomUUID()}/default`);

describe("the Dispatcher's queue with a backlog", () => {
  it("reads as many rows per report with 2,000 jobs waiting as with none", async () => {
    await runInDurableObject(freshDispatcher(), (_instance: Dispatcher, state) => {
      const counter = countingSql(state.storage.sql);
      const queue = new JobQueue(counter.sql);
      queue.add(newJob("running"));
      queue.lease("running", { machineId: "machine-1", instanceId: "comfy-0", token: "t", expiresAt: 1e15 });
      queue.add(newJob("first-waiting"));
      const idle = readsPerReport(queue, counter, "first-waiting");

      for (let n = 0; n < 2_000; n++) queue.add(newJob(`waiting-${n}`));
      queue.add(newJob("last-waiting"));
      const backlog = readsPerReport(queue, counter, "last-waiting");

      expect(queue.position("last-waiting")).toBe(2_001);
      expect(backlog).toBeLessThanOrEqual(idle + 2);
    });
  });

  it("finds the next job for a machine without reading the runs pinned to other machines", async () => {
    await runInDurableObject(freshDispatcher(), (_instance: Dispatcher, state) => {
      const counter = countingSql(state.storage.sql);
      const queue = new JobQueue(counter.sql);
      const pinnedTo = (machine: string) => ({ ...payload, machine_id: machine });
      const readsForNext = (machine: string) => {
        counter.reset();
        const job = queue.nextWaitingFor(machine, [], [null]);
        return { runId: job?.run_id, reads: counter.rowsRead() };
      };
      queue.add({ ...newJob("parked-first"), payload: pinnedTo("machine-parked") });
      queue.add(newJob("free-first"));
      const idle = readsForNext("machine-1");
      expect(idle.runId).toBe("free-first");

      for (let n = 0; n < 2_000; n++)
        queue.add({ ...newJob(`parked-${n}`), payload: pinnedTo("machine-parked") });
      queue.lease("free-first", {
        machineId: "machine-1",
        instanceId: "comfy-0",
        token: "t",
        expiresAt: 1e15,
      });
      queue.add(newJob("free-later"));
      queue.add({ ...newJob("mine-later"), payload: pinnedTo("machine-1") });
      const backlog = readsForNext("machine-1");
      expect(backlog.runId).toBe("free-later");
      expect(backlog.reads).toBeLessThanOrEqual(idle.reads + 2);
      // A machine's own pinned run and an unpinned one go by priority, then age.
      queue.add({ ...newJob("mine-urgent", 5), payload: pinnedTo("machine-1") });
      expect(readsForNext("machine-1").runId).toBe("mine-urgent");
      expect(readsForNext("machine-parked").runId).toBe("parked-first");
    });
  });

  it("finds a slot's next job as cheaply with 2,000 waiting for a model file it lacks as with none", async () => {
    await runInDurableObject(freshDispatcher(), (_instance: Dispatcher, state) => {
      const counter = countingSql(state.storage.sql);
      const queue = new JobQueue(counter.sql);
      const needing = (runId: string, name: string): NewJob => ({
        ...newJob(runId),
        payload: { ...payload, models: [{ folder: "checkpoints", name }] },
      });
      const nextFor = (keys: (string | null)[]) => {
        counter.reset();
        const job = queue.nextWaitingFor("machine-1", [], keys);
        return { job: job?.run_id, reads: counter.rowsRead() };
      };
      queue.add(needing("first-elsewhere", "elsewhere.safetensors"));
      queue.add(newJob("plain"));
      queue.add(needing("here", "here.safetensors"));
      const keys = queue.waitingModelKeys();
      expect(keys).toHaveLength(2);
      const here = keys.find((key) => key.includes("here.safetensors") && !key.includes("elsewhere"));
      const small = nextFor([null, here ?? null]);
      expect(small.job).toBe("plain");

      for (let n = 0; n < 2_000; n++) queue.add(needing(`elsewhere-${n}`, "elsewhere.safetensors"));
      counter.reset();
      expect(queue.waitingModelKeys()).toEqual(keys);
      expect(counter.rowsRead()).toBeLessThanOrEqual(4);
      const backlog = nextFor([null, here ?? null]);
      expect(backlog.job).toBe("plain");
      expect(backlog.reads).toBeLessThanOrEqual(small.reads + 2);
      queue.remove("plain");
      expect(nextFor([null, here ?? null]).job).toBe("here");
    });
  });

  it("keeps each waiting job's place by priority and age through leases, requeues and removals", async () => {
    await runInDurableObject(freshDispatcher(), (_instance: Dispatcher, state) => {
      const queue = new JobQueue(state.storage.sql);
      for (const [runId, priority] of [
        ["a", 0],
        ["b", 0],
        ["c", 5],
        ["d", 0],
      ] as const)
        queue.add(newJob(runId, priority));
      const places = (q: JobQueue) => ["a", "b", "c", "d"].map((runId) => q.position(runId));
      expect(places(queue)).toEqual([1, 2, 0, 3]);

      queue.lease("c", { machineId: "machine-1", instanceId: "comfy-0", token: "t", expiresAt: 1e15 });
      queue.remove("b");
      expect(places(queue)).toEqual([0, null, null, 1]);

      queue.requeue("c", 2);
      queue.markStopping("d", "cancelled");
      expect(places(queue)).toEqual([1, null, 0, null]);
      // A woken Dispatcher rebuilds the line from its table and agrees.
      expect(places(new JobQueue(state.storage.sql))).toEqual([1, null, 0, null]);
    });
  });
});
