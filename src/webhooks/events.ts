import type { RunStatus } from "../db/schema";
import { isTerminal } from "../db/schema";
import { comfyDeployRun, executionStatus, executionView } from "../services/run-views";
import type { RunRow } from "../stores/runs";

/** Event types a tenant endpoint can subscribe to: one per run status, and the fleet's. */
export const RUN_EVENTS = [
  "run.not-started",
  "run.queued",
  "run.running",
  "run.uploading",
  "run.success",
  "run.failed",
  "run.cancelled",
  "run.timeout",
] as const;
export const MACHINE_EVENTS = ["machine.online", "machine.offline"] as const;
export const EVENT_TYPES = [...RUN_EVENTS, ...MACHINE_EVENTS] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const runEventType = (status: RunStatus) => `run.${status}` as EventType;

/** Seed 004's event names; `workflow.started` and the terminal ones are always sent. */
const executionEvents: Record<RunStatus, string> = {
  "not-started": "workflow.pending",
  queued: "workflow.queued",
  running: "workflow.started",
  uploading: "workflow.uploading",
  success: "workflow.completed",
  failed: "workflow.failed",
  cancelled: "workflow.cancelled",
  timeout: "workflow.timeout",
};

/** Whether a run's own webhook hears about this status. */
export function runWebhookWants(run: RunRow): boolean {
  if (!run.webhookUrl) return false;
  if (isTerminal(run.status) || run.webhookIntermediateStatus) return true;
  return run.origin === "execution" && run.status === "running";
}

/**
 * The body a run's own webhook gets, in the dialect the run was created in: seed 004's execution
 * event, or ComfyDeploy's run as `GET /api/run/{id}` shows it (plus `event`).
 */
export function runWebhookBody(run: RunRow, at: string): { event: string; body: unknown } {
  if (run.origin === "execution") {
    const view = executionView(run);
    const event = executionEvents[run.status];
    return {
      event,
      body: {
        event,
        execution_id: run.id,
        status: executionStatus(run.status),
        timestamp: at,
        workflow_result: {
          execution_id: run.id,
          status: view.status,
          raw_status: run.status,
          outputs: view.outputs,
          duration_seconds: view.duration_seconds,
          error: view.error,
        },
      },
    };
  }
  const event = runEventType(run.status);
  return { event, body: { event, ...comfyDeployRun(run) } };
}

/** A tenant endpoint's body: the Standard Webhooks envelope `{type, timestamp, data}`. */
export const envelope = (type: EventType, at: string, data: unknown) => ({ type, timestamp: at, data });
