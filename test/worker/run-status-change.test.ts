import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../../src/db/client";
import type { Progress } from "../../src/protocol/v1";
import { changeRunStatus } from "../../src/runs/lifecycle";
import { findRunById, updateLiveRun } from "../../src/stores/runs";
import { executeRun } from "../helpers/runs";
import { progress } from "../helpers/test-agent";
import { createUser } from "../helpers/users";

const db = createDb(env.DB);
const ctx = { env, db };

/** A stored run waiting in its queue (its pool has no machine), with this progress in its row. */
async function waitingRun(stored?: Progress) {
  const runId = await executeRun(await createUser("statuschange"));
  if (stored) await updateLiveRun(db, runId, { progress: stored });
  return runId;
}

const stored = async (runId: string) => {
  const row = await findRunById(db, runId);
  if (!row) throw new Error(`run ${runId} not stored`);
  return row;
};

const progressWith = (percentage: number, nodes: number): Progress => ({
  ...progress(percentage).progress,
  nodes_total: nodes,
});

describe("a status change is one compare-and-set", () => {
  it("lets exactly one of two racing endings win, and the row is the winner's", async () => {
    const runId = await waitingRun();
    const [cancelled, failed] = await Promise.all([
      changeRunStatus(ctx, runId, "cancelled"),
      changeRunStatus(ctx, runId, "failed", { error: { code: "boom", message: "boom" } }),
    ]);
    const winners = [cancelled, failed].filter((row) => row !== undefined);
    expect(winners).toHaveLength(1);
    expect((await stored(runId)).status).toBe(winners[0]?.status);
  });

  it("refuses a move the run's status does not allow and leaves the row as it was", async () => {
    const runId = await waitingRun();
    expect(await changeRunStatus(ctx, runId, "running")).toMatchObject({ status: "running" });
    // Backwards (running → queued) and out of an end are both refused.
    expect(await changeRunStatus(ctx, runId, "queued")).toBeUndefined();
    const ended = await changeRunStatus(ctx, runId, "timeout");
    expect(ended).toMatchObject({ status: "timeout" });
    expect(await changeRunStatus(ctx, runId, "success")).toBeUndefined();
    expect(await changeRunStatus(ctx, runId, "running")).toBeUndefined();
    expect(await stored(runId)).toEqual(ended);
  });

  it("changes nothing for a run that does not exist", async () => {
    expect(await changeRunStatus(ctx, crypto.randomUUID(), "cancelled")).toBeUndefined();
  });

  it("keeps the stored progress on an ending other than success, and completes it on success", async () => {
    const failing = await waitingRun(progressWith(40, 7));
    const failed = await changeRunStatus(ctx, failing, "failed", { error: { code: "x", message: "x" } });
    expect(failed?.progress).toMatchObject({ percentage: 40, nodes_total: 7 });
    expect(failed?.endedAt).toEqual(expect.any(String));

    const succeeding = await waitingRun(progressWith(40, 7));
    const succeeded = await changeRunStatus(ctx, succeeding, "success");
    expect(succeeded?.progress).toMatchObject({ percentage: 100, nodes_done: 7, nodes_total: 7 });
    expect((await stored(succeeding)).progress).toEqual(succeeded?.progress);
  });
});
