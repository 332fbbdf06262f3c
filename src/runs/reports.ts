import type { RunError } from "../db/schema";
import { publishFleetEvent } from "../durable/fleet-room/client";
import { runRoomClient } from "../durable/run-room/client";
import type { Progress, RunOutput, RunReport } from "../protocol/v1";
import { findOwnedFilesByKeys, insertFileOnce } from "../stores/files";
import { appendLogs, findRunById, updateLiveRun } from "../stores/runs";
import { type ChangeOptions, changeRunStatus, type LifecycleContext } from "./lifecycle";
import { outputFiles } from "./outputs";

const PROGRESS_WRITE_INTERVAL_MS = 1000;

/** The run a report is about, as the Dispatcher holds it under a live lease. */
export type ReportedRun = {
  runId: string;
  userId: string;
  origin: string;
  /** The R2 keys the control plane granted for this run, lease and attempt. */
  grantedKeys: ReadonlySet<string>;
};

/** A report that cannot be applied; the run ends `failed` with this reason. */
export class ReportRefused extends Error {
  override name = "ReportRefused";
  constructor(
    readonly code: "forged_output_key" | "report_failed",
    message: string,
  ) {
    super(message);
  }
}

/**
 * Applies to runs what the Dispatcher learns: agent reports, leases, lost leases and deadlines. Status
 * changes go through `changeRunStatus`; live progress reaches subscribers at once and D1 at most once a
 * second, and the latest progress is written with the run's final status so every reader agrees.
 */
export class RunReports {
  private readonly progress = new Map<string, { latest: Progress; writtenAt: number }>();

  constructor(private readonly ctx: LifecycleContext) {}

  leased(runId: string, machineId: string, attempt: number, instanceId: string) {
    return changeRunStatus(this.ctx, runId, "queued", { machineId, instanceId, attempt });
  }

  requeued(runId: string, attempt: number) {
    this.progress.delete(runId);
    return changeRunStatus(this.ctx, runId, "not-started", { attempt });
  }

  failed(runId: string, error: RunError) {
    return this.end(runId, "failed", { error });
  }

  cancelled(runId: string) {
    return this.end(runId, "cancelled");
  }

  timedOut(runId: string) {
    return this.end(runId, "timeout", {
      error: { code: "timeout", message: "The run exceeded its timeout" },
    });
  }

  /** Applies one agent report (its lease already checked). */
  async apply(run: ReportedRun, report: RunReport) {
    const { runId } = run;
    switch (report.kind) {
      case "accepted":
        return updateLiveRun(this.ctx.db, runId, { promptId: report.prompt_id });
      case "started":
        return changeRunStatus(this.ctx, runId, "running");
      case "progress":
        return this.onProgress(run, report.progress);
      case "log":
        await appendLogs(this.ctx.db, runId, [
          { level: report.level, message: report.message, nodeId: report.node_id },
        ]);
        return runRoomClient(this.ctx.env, runId).publish([
          { type: "log", data: { level: report.level, message: report.message, node_id: report.node_id } },
        ]);
      case "uploading":
        return changeRunStatus(this.ctx, runId, "uploading");
      case "succeeded":
        return this.succeeded(run, report.outputs);
      case "failed":
        return this.failed(runId, report.error);
      case "cancelled":
        return this.cancelled(runId);
      case "released":
        return;
    }
  }

  private end(
    runId: string,
    to: "success" | "failed" | "cancelled" | "timeout",
    fields = {},
    options: ChangeOptions = {},
  ) {
    const latest = this.progress.get(runId)?.latest;
    this.progress.delete(runId);
    return changeRunStatus(this.ctx, runId, to, latest ? { ...fields, progress: latest } : fields, options);
  }

  private async onProgress({ runId, userId }: ReportedRun, progress: Progress) {
    await Promise.all([
      runRoomClient(this.ctx.env, runId).publish([{ type: "progress", data: progress }]),
      publishFleetEvent(this.ctx.env, userId, {
        type: "task_progress",
        data: { taskId: runId, progress: progress.percentage },
      }),
    ]);
    const now = Date.now();
    const writtenAt = this.progress.get(runId)?.writtenAt ?? 0;
    const due = now - writtenAt >= PROGRESS_WRITE_INTERVAL_MS;
    this.progress.set(runId, { latest: progress, writtenAt: due ? now : writtenAt });
    if (due) await updateLiveRun(this.ctx.db, runId, { progress });
  }

  private async succeeded(run: ReportedRun, outputs: RunOutput[]) {
    const forged = outputs.filter((o) => o.key !== undefined && !run.grantedKeys.has(o.key));
    if (forged.length > 0) {
      console.error(
        JSON.stringify({
          event: "forged_output_key",
          run_id: run.runId,
          user_id: run.userId,
          keys: forged.map((o) => o.key),
        }),
      );
      throw new ReportRefused(
        "forged_output_key",
        `The agent reported outputs at R2 keys it was not granted for this run: ${forged.map((o) => o.key).join(", ")}`,
      );
    }
    // One round trip reads the run and the files already recorded; the new files go with its final write.
    const { db, env } = this.ctx;
    const keys = outputs.flatMap((o) => (o.key ? [o.key] : []));
    const [before, recorded] = await db.batch([
      findRunById(db, run.runId),
      findOwnedFilesByKeys(db, run.userId, keys),
    ]);
    if (!before) return undefined;
    const { stored, newFiles } = await outputFiles(env, run, outputs, recorded);
    const alongside = newFiles.map((file) => insertFileOnce(db, file));
    return this.end(run.runId, "success", { outputs: stored }, { before, alongside });
  }
}
