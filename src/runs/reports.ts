import type { RunError } from "../db/schema";
import { publishFleetEvent } from "../durable/fleet-room/client";
import { runRoomClient } from "../durable/run-room/client";
import type { RunEventBody } from "../lib/run-events";
import type { Progress, RunLogLine, RunOutput, RunReport } from "../protocol/v1";
import { insertOutputFileOnSuccess } from "../stores/files";
import { appendLogs, appendLogsQueries, type NewLog, updateLiveRun } from "../stores/runs";
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

  /** The lease's move to `queued`; `written` as in `ChangeOptions`. */
  leased(runId: string, machineId: string, attempt: number, instanceId: string, written?: () => void) {
    return changeRunStatus(this.ctx, runId, "queued", { machineId, instanceId, attempt }, { written });
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

  /**
   * Applies one agent report (its lease already checked). `applied` is called the moment the report
   * is applied but not yet announced: D1 holds what it changed, and its room events are on their way,
   * in order behind the run's earlier ones (`ended`: it ended the run). A report that changes nothing
   * announced (`accepted`, a move that is not allowed) does not call it.
   */
  async apply(run: ReportedRun, report: RunReport, applied: (ended: boolean) => void = () => {}) {
    const { runId } = run;
    const written = () => applied(false);
    const ended = () => applied(true);
    switch (report.kind) {
      case "accepted":
        return updateLiveRun(this.ctx.db, runId, { promptId: report.prompt_id });
      case "started":
        return changeRunStatus(this.ctx, runId, "running", {}, { written });
      case "progress":
        return this.onProgress(run, report.progress, written);
      case "log":
        // Neither waits for the other: the line is the same in D1 and in the room.
        await Promise.all([
          appendLogs(this.ctx.db, runId, [storedLog(report)]).then(written),
          runRoomClient(this.ctx.env, runId, this.ctx.order).publish([logEvent(report)]),
        ]);
        return;
      case "uploading":
        return changeRunStatus(this.ctx, runId, "uploading", {}, { written });
      case "succeeded":
        return this.succeeded(run, report.outputs, report.logs ?? [], ended);
      case "failed":
        return this.end(runId, "failed", { error: report.error }, { written: ended });
      case "cancelled":
        return this.end(runId, "cancelled", {}, { written: ended });
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

  /**
   * The room gets the progress first: that is what subscribers wait for. The fleet event and the row's
   * write (at most once a second) follow without holding up the run's next report: progress is
   * superseded, the row's write cannot touch a finished run, and the final write carries the latest.
   * The latest is kept before anything is awaited, so a run's next report always finds it.
   */
  private async onProgress({ runId, userId }: ReportedRun, progress: Progress, written: () => void) {
    const room = runRoomClient(this.ctx.env, runId, this.ctx.order).publish([
      { type: "progress", data: progress },
    ]);
    void publishFleetEvent(this.ctx.env, userId, {
      type: "task_progress",
      data: { taskId: runId, progress: progress.percentage },
    });
    const now = Date.now();
    const writtenAt = this.progress.get(runId)?.writtenAt ?? 0;
    const due = now - writtenAt >= PROGRESS_WRITE_INTERVAL_MS;
    this.progress.set(runId, { latest: progress, writtenAt: due ? now : writtenAt });
    if (due) {
      void updateLiveRun(this.ctx.db, runId, { progress }).catch((error) =>
        console.error(
          JSON.stringify({ event: "progress_write_failed", run_id: runId, error: String(error) }),
        ),
      );
    }
    written();
    await room;
  }

  /**
   * One D1 round trip: the run's move to `success` with its outputs, each output's file and the
   * report's log lines, in one batch; then the room gets the lines and the final status in one call.
   * The files are inserted only if the move happened (see `insertOutputFileOnSuccess`).
   */
  private async succeeded(run: ReportedRun, outputs: RunOutput[], logs: RunLogLine[], ended: () => void) {
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
    const { db, env } = this.ctx;
    const { stored, newFiles } = await outputFiles(env, run, outputs);
    const alongside: ChangeOptions["alongside"] = newFiles.map((file) => insertOutputFileOnSuccess(db, file));
    if (logs.length > 0) alongside.push(...appendLogsQueries(db, run.runId, logs.map(storedLog)));
    const events = logs.map(logEvent);
    return this.end(run.runId, "success", { outputs: stored }, { alongside, events, written: ended });
  }
}

const storedLog = (line: RunLogLine): NewLog => ({
  level: line.level,
  message: line.message,
  nodeId: line.node_id,
});

const logEvent = (line: RunLogLine): RunEventBody => ({
  type: "log",
  data: { level: line.level, message: line.message, node_id: line.node_id },
});
