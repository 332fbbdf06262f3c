import { RUN_STATUSES, type RunStatus, type StoredOutput } from "../db/schema";
import { instanceKey } from "../lib/instance-key";
import type { Progress, RunOutput } from "../protocol/v1";
import type { NewLog, RunRow } from "../stores/runs";

type OutputKind = RunOutput["kind"];
type LogLevel = NewLog["level"];
type OutputItem = string | ReturnType<typeof mediaItem>;
type OutputsByKind = Partial<Record<OutputKind, OutputItem[]>>;

const seconds = (from: string | null, to: string | null) =>
  from && to ? Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000) : null;

/** Outputs grouped by kind; a text output is its text. */
function byKind(outputs: StoredOutput[]): OutputsByKind {
  const groups: OutputsByKind = {};
  for (const o of outputs)
    groups[o.kind] = [...(groups[o.kind] ?? []), o.kind === "text" ? (o.text ?? "") : mediaItem(o)];
  return groups;
}

const outputsOf = (run: RunRow) => run.outputs ?? [];

const mediaItem = (o: StoredOutput) => ({
  url: o.url ?? "",
  type: o.type,
  filename: o.filename,
  subfolder: o.subfolder,
  is_public: false,
  upload_duration: 0,
  content_type: o.content_type,
  size: o.size,
  file_id: o.file_id ?? null,
});

/** ComfyDeploy's output groups: one per node, keyed by kind (`images`, `gifs`, …), as its SDK parses them. */
export function outputGroups(run: RunRow) {
  const byNode = new Map<string, StoredOutput[]>();
  for (const output of outputsOf(run))
    byNode.set(output.node_id, [...(byNode.get(output.node_id) ?? []), output]);
  return [...byNode.entries()].map(([nodeId, outputs]) => {
    const data = byKind(outputs);
    const at = run.endedAt ?? run.updatedAt;
    return {
      id: `${run.id}:${nodeId}`,
      run_id: run.id,
      node_id: nodeId,
      type: outputs[0]?.kind ?? null,
      node_meta: null,
      data,
      ...data,
      created_at: at,
      updated_at: at,
    };
  });
}

const progressFraction = (run: RunRow) => (run.progress?.percentage ?? 0) / 100;

/** The ComfyDeploy run (`GET /api/run/{id}`), a superset of its SDK's WorkflowRunModel and seed 001. */
export function comfyDeployRun(run: RunRow, extra: { queuePosition?: number | null; number?: number } = {}) {
  const outputs = outputGroups(run);
  return {
    id: run.id,
    run_id: run.id,
    status: run.status,
    live_status: run.progress?.current_node_type ?? null,
    progress: progressFraction(run),
    workflow_id: run.workflowId ?? "",
    workflow_version_id: run.workflowVersionId,
    deployment_id: run.deploymentId,
    workflow_inputs: run.inputs,
    workflow_outputs: flatOutputs(run),
    workflow_api: run.graph,
    machine_id: run.machineId,
    origin: run.origin,
    priority: run.priority,
    attempt: run.attempt,
    retried_from: run.retriedFrom,
    created_at: run.createdAt,
    updated_at: run.updatedAt,
    queued_at: run.queuedAt,
    started_at: run.startedAt,
    ended_at: run.endedAt,
    duration: seconds(run.createdAt, run.endedAt),
    run_duration: seconds(run.startedAt, run.endedAt),
    cold_start_duration: seconds(run.queuedAt, run.startedAt),
    cold_start_duration_total: seconds(run.createdAt, run.startedAt),
    number: extra.number ?? 0,
    queue_position: extra.queuePosition ?? null,
    gpu_event_id: null,
    gpu: run.gpu,
    machine_version: null,
    machine_type: run.machineId ? ("custom" as const) : null,
    modal_function_call_id: null,
    user_id: run.userId,
    org_id: null,
    is_realtime: false,
    webhook: run.webhookUrl,
    webhook_status: null,
    webhook_intermediate_status: run.webhookIntermediateStatus,
    metadata: run.metadata,
    outputs,
    error: run.error,
    warnings: run.warnings ?? [],
  };
}

/** Seed 001's `workflow_outputs`: every output of the run, grouped by kind. */
export const flatOutputs = (run: RunRow) => byKind(outputsOf(run));

/** Seed 000's status: `progress {current, total, message}` with a 0-100 scale. */
export function statusView(run: RunRow) {
  const p = run.progress;
  const current = Math.round(p?.percentage ?? 0);
  return {
    id: run.id,
    status: run.status,
    started_at: run.startedAt,
    ended_at: run.endedAt,
    duration: seconds(run.startedAt, run.endedAt),
    outputs: outputGroups(run),
    error: errorMessage(run),
    progress: { current, total: 100, message: progressMessage(run, p) },
  };
}

function progressMessage(run: RunRow, p: RunRow["progress"]) {
  if (run.status !== "running" || !p) return run.status;
  const node = p.current_node_type ?? p.current_node ?? "";
  return p.step !== null && p.total_steps
    ? `${node} step ${p.step}/${p.total_steps}`
    : `running ${node}`.trim();
}

const errorMessage = (run: RunRow) => run.error?.message ?? null;

/** Seed 004 speaks pending / running / completed / failed / cancelled; this table is the one mapping. */
export const EXECUTION_STATUSES = ["pending", "running", "completed", "failed", "cancelled"] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

const EXECUTION_STATUS_OF: Record<RunStatus, ExecutionStatus> = {
  "not-started": "pending",
  queued: "pending",
  running: "running",
  uploading: "running",
  success: "completed",
  failed: "failed",
  timeout: "failed",
  cancelled: "cancelled",
};

export const executionStatus = (status: RunStatus): ExecutionStatus => EXECUTION_STATUS_OF[status];

/** The run statuses one seed 004 status stands for (to filter runs by it). */
export const runStatusesFor = (status: ExecutionStatus): RunStatus[] =>
  RUN_STATUSES.filter((s) => EXECUTION_STATUS_OF[s] === status);

/** A run log line as seed 004 shows it. */
export function logView(row: { at: string; level: LogLevel; message: string; nodeId: string | null }) {
  return { timestamp: row.at, level: row.level, message: row.message, node_id: row.nodeId };
}

/** The run statuses each of seed 003/004's statuses stands for, to filter lists by them. */
export const RUN_STATUSES_OF = Object.fromEntries(
  EXECUTION_STATUSES.map((status) => [status, runStatusesFor(status)]),
) as Record<ExecutionStatus, RunStatus[]>;

/** The fields seed 004's execution result and live status share. */
function executionHead(run: RunRow) {
  return {
    execution_id: run.id,
    status: executionStatus(run.status),
    raw_status: run.status,
    created_at: run.createdAt,
    started_at: run.startedAt,
  };
}

/** Seed 004's execution result (`GET /api/workflows/{id}`). */
export function executionView(run: RunRow, logs: ReturnType<typeof logView>[] = []) {
  return {
    ...executionHead(run),
    completed_at: run.endedAt,
    duration_seconds: seconds(run.startedAt, run.endedAt),
    outputs: flatOutputs(run),
    error: errorMessage(run),
    error_details: run.error,
    logs,
    metadata: run.metadata ?? {},
    retried_from: run.retriedFrom,
    warnings: run.warnings ?? [],
  };
}

/** Seed 004's live status (`GET /api/workflows/{id}/status`). */
export function executionStatusView(run: RunRow, queuePosition: number | null) {
  const p = run.progress;
  const eta = p?.eta_seconds ?? null;
  return {
    ...executionHead(run),
    queue_position: queuePosition,
    progress: {
      current_step: p?.step ?? p?.nodes_done ?? 0,
      total_steps: p?.total_steps ?? p?.nodes_total ?? 0,
      percentage: p?.percentage ?? 0,
      current_node: p?.current_node ?? null,
      eta_seconds: eta,
    },
    estimated_completion: eta !== null ? new Date(Date.now() + eta * 1000).toISOString() : null,
  };
}

/** Seed 003's task: a run, with the instance (`<machine id>:<instance id>`) that ran it. */
export function taskView(run: RunRow) {
  const p = run.progress as Progress | null;
  return {
    id: run.id,
    instanceId: run.machineId && run.instanceId ? instanceKey(run.machineId, run.instanceId) : null,
    status: executionStatus(run.status),
    progress: run.status === "success" ? 100 : Math.round(p?.percentage ?? 0),
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    raw_status: run.status,
    machine_id: run.machineId,
    pool: run.pool,
    error: errorMessage(run),
    outputs: flatOutputs(run),
  };
}
