import type { Db } from "../../db/client";
import type { RunStatus } from "../../db/schema";
import type { Bindings } from "../../env";
import type { RunFailure, RunOutput, RunReport } from "../../protocol/v1";
import { recordRunOutputs } from "../../services/run-outputs";
import { publish, publishStatus } from "../../services/run-room-client";
import { advanceRun, appendLogs, type NewRun, requeueRun, updateLiveRun } from "../../stores/runs";
import { publishFleetEvent, publishTaskStatus } from "../fleet-room/client";

const PROGRESS_WRITE_INTERVAL_MS = 1000;

/**
 * Applies what happens to a run to its D1 row and its RunRoom, in that order. Every status change is
 * forward-only in D1, so a late or repeated change is a no-op and is not published.
 */
export class RunLifecycle {
  private readonly progressWrittenAt = new Map<string, number>();

  constructor(
    private readonly env: Bindings,
    private readonly db: Db,
  ) {}

  async advance(runId: string, status: RunStatus, fields: Partial<NewRun> = {}) {
    const row = await advanceRun(this.db, runId, status, fields);
    if (row) await publishStatus(this.env, row);
    if (row) await publishTaskStatus(this.env, row.userId, row);
    return row;
  }

  leased(runId: string, machineId: string, attempt: number, instanceId?: string) {
    return this.advance(runId, "queued", { machineId, instanceId, attempt });
  }

  async requeued(runId: string, attempt: number) {
    const row = await requeueRun(this.db, runId, attempt);
    if (row) await publishStatus(this.env, row);
  }

  failed(runId: string, error: RunFailure | { code: string; message: string }) {
    this.progressWrittenAt.delete(runId);
    return this.advance(runId, "failed", { error });
  }

  /** Applies one agent report (its lease already checked). */
  async apply(ctx: { runId: string; userId: string; origin: string }, report: RunReport) {
    const { runId } = ctx;
    switch (report.kind) {
      case "accepted":
        return updateLiveRun(this.db, runId, { promptId: report.prompt_id });
      case "started":
        return this.advance(runId, "running");
      case "progress":
        await publishFleetEvent(this.env, ctx.userId, {
          type: "task_progress",
          data: { taskId: runId, progress: report.progress.percentage },
        });
        return this.progress(runId, report.progress);
      case "log":
        await appendLogs(this.db, runId, [
          { level: report.level, message: report.message, nodeId: report.node_id },
        ]);
        return publish(this.env, runId, [
          { type: "log", data: { level: report.level, message: report.message, node_id: report.node_id } },
        ]);
      case "uploading":
        return this.advance(runId, "uploading");
      case "succeeded":
        return this.succeeded(ctx, report.outputs);
      case "failed":
        return this.failed(runId, report.error);
      case "cancelled":
        return this.advance(runId, "cancelled");
      case "released":
        return;
    }
  }

  private async progress(runId: string, progress: Extract<RunReport, { kind: "progress" }>["progress"]) {
    await publish(this.env, runId, [{ type: "progress", data: progress }]);
    // Every event reaches subscribers; the row is refreshed at most once a second.
    const now = Date.now();
    if (now - (this.progressWrittenAt.get(runId) ?? 0) < PROGRESS_WRITE_INTERVAL_MS) return;
    this.progressWrittenAt.set(runId, now);
    await updateLiveRun(this.db, runId, { progress });
  }

  private async succeeded(ctx: { runId: string; userId: string; origin: string }, outputs: RunOutput[]) {
    this.progressWrittenAt.delete(ctx.runId);
    const recorded = await recordRunOutputs(this.env, this.db, ctx, outputs);
    return this.advance(ctx.runId, "success", { outputs: recorded });
  }
}
