/** The shapes the dashboard reads from the public API (see /api/doc). */
export type RunStatus =
  | "not-started"
  | "queued"
  | "running"
  | "uploading"
  | "success"
  | "failed"
  | "cancelled"
  | "timeout";

export const RUN_STATUSES: RunStatus[] = [
  "not-started",
  "queued",
  "running",
  "uploading",
  "success",
  "failed",
  "cancelled",
  "timeout",
];
export const TERMINAL = new Set<RunStatus>(["success", "failed", "cancelled", "timeout"]);

export type Progress = {
  percentage: number;
  nodes_done: number;
  nodes_total: number;
  current_node: string | null;
  current_node_type?: string | null;
  step: number | null;
  total_steps: number | null;
  eta_seconds: number | null;
};

export type OutputFile = {
  url?: string;
  filename?: string;
  content_type?: string;
  size?: number;
  text?: string;
};
export type OutputGroup = { id: string; node_id: string; data: Record<string, OutputFile[]> };

export type Run = {
  id: string;
  status: RunStatus;
  progress: number;
  live_status: string | null;
  deployment_id: string | null;
  workflow_inputs: Record<string, unknown>;
  machine_id: string | null;
  attempt: number;
  retried_from: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  duration: number | null;
  run_duration: number | null;
  queue_position: number | null;
  outputs: OutputGroup[];
  error: RunError | null;
};

export type RunError = {
  code?: string;
  message?: string;
  node_id?: string;
  node_type?: string;
  exception_type?: string;
  traceback?: string[];
};

export type RunSnapshot = {
  run_id: string;
  status: RunStatus;
  progress: Progress | null;
  outputs: unknown[] | null;
  error: RunError | null;
  attempt: number;
  updated_at: string;
};

export type InputType = "string" | "integer" | "number" | "boolean" | "image" | "file" | "enum" | "json";

/** One input of a deployment's spec (`GET /api/deployment/{id}/inputs`). */
export type DeploymentInput = {
  input_id: string;
  type: InputType;
  class_type: string;
  required: boolean;
  default?: unknown;
  description?: string;
  enum_values?: string[];
  min?: number;
  max?: number;
};

export type Deployment = {
  id: string;
  name: string;
  description: string | null;
  version: number;
  pool: string;
  environment: string;
  is_active: boolean;
  workflow_id: string;
  created_at: string;
  updated_at: string | null;
};

export type Machine = {
  id: string;
  name: string;
  pool: string;
  status: "offline" | "online" | "draining";
  gpu: string | null;
  gpus: { index: number; name: string; memory_total_mb?: number; memory_used_mb?: number }[];
  instances: { id: string; available?: boolean; busy?: boolean }[];
  agent: Record<string, unknown> | null;
  last_seen_at: string | null;
};

/** Seed 003's view of one ComfyUI on a machine (`GET /api/instances`), with its live state. */
export type FleetInstance = {
  id: string;
  machine_id: string;
  instance_id: string;
  comfy_url: string | null;
  enabled: boolean;
  alive: boolean;
  busy: boolean;
  available: boolean;
  reason: string | null;
};

export type ApiKey = {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
};

export type FileRow = {
  id: string;
  filename: string;
  size: number | null;
  content_type: string;
  status: string;
  purpose: string;
  run_id: string | null;
  created_at: string;
  download_url: string;
};
