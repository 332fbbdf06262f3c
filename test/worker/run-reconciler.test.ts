import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import type { RunRow } from "../../src/db/schema";
import type { Dispatcher } from "../../src/durable/dispatcher";
import { failUnqueuedRuns } from "../../src/services/run-reconciler";
import { findRunById } from "../../src/stores/runs";
import { dispatcherOf } from "../helpers/dispatcher";
import { api } from "../helpers/http";
import { executeRun, getRunStatus } from "../helpers/runs";
import { createUser } from "../helpers/users";

const backdate = (runId: string, ms: number) =>
  env.DB.prepare("UPDATE runs SET created_at = ? WHERE id = ?")
    .bind(new Date(Date.now() - ms).toISOString(), runId)
    .run();

/** The row was written but the request died before its enqueue reached the Dispatcher. */
const dropFromQueue = (userId: string, runId: string) =>
  runInDurableObject(dispatcherOf(userId), (_d: Dispatcher, state) => {
    state.storage.sql.exec("DELETE FROM jobs WHERE run_id = ?", runId);
  });

describe("the unqueued-run sweep", () => {
  it("fails a not-started run its Dispatcher never got, and only that one", async () => {
    const user = await createUser();
    const other = await createUser();
    const orphan = await executeRun(user);
    const waiting = await executeRun(user);
    const fresh = await executeRun(user);
    const othersOrphan = await executeRun(other);
    await dropFromQueue(user.id, orphan);
    await dropFromQueue(user.id, fresh);
    await dropFromQueue(other.id, othersOrphan);
    for (const runId of [orphan, waiting, othersOrphan]) await backdate(runId, 120_000);

    const failed = await failUnqueuedRuns(env, createDb(env.DB));
    expect(failed).toEqual(expect.arrayContaining([orphan, othersOrphan]));
    expect(failed).not.toContain(waiting);
    expect(failed).not.toContain(fresh);

    expect(await getRunStatus(user, orphan)).toMatchObject({
      status: "failed",
      error: { code: "not_queued" },
    });
    expect((await getRunStatus(other, othersOrphan)).status).toBe("failed");
    expect((await getRunStatus(user, waiting)).status).toBe("not-started");
    expect((await getRunStatus(user, fresh)).status).toBe("not-started");
    // The other tenant's run stays invisible to this one.
    expect((await api(`/api/run/${othersOrphan}`, { token: user.apiKey })).status).toBe(404);
    expect(await failUnqueuedRuns(env, createDb(env.DB))).not.toContain(orphan);
  });

  it("enqueue is idempotent by run id: a repeated enqueue keeps one queue entry", async () => {
    const user = await createUser();
    const runId = await executeRun(user);
    const stub = dispatcherOf(user.id);
    const job = await runInDurableObject(stub, (_d: Dispatcher, state) =>
      state.storage.sql
        .exec<{ payload: string; priority: number }>(
          "SELECT payload, priority FROM jobs WHERE run_id = ?",
          runId,
        )
        .one(),
    );
    const row = (await findRunById(createDb(env.DB), runId)) as RunRow;
    const again = await stub.enqueue(
      {
        runId,
        userId: user.id,
        priority: job.priority,
        attempt: 1,
        deadlineAt: null,
        payload: JSON.parse(job.payload),
      },
      { ...row, metadata: { changed: true } },
    );
    expect(await stub.stats()).toMatchObject({ queued: 1 });
    // The row stays as first written, and the repeat is answered with it.
    expect((again as unknown as { run: RunRow }).run).toMatchObject({ id: runId, metadata: row.metadata });
    expect(await findRunById(createDb(env.DB), runId)).toEqual(row);
  });
});
