import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import type { ApiGraph, InputBinding } from "../../protocol/graph";
import type { Progress, RunOutput } from "../../protocol/v1";
import { createdAt, users } from "./auth";
import { jsonText } from "./json-column";

/** A GPU host's agent. Its token reaches only the agent endpoints. */
export const machines = sqliteTable(
  "machines",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    pool: text("pool").notNull().default("default"),
    tokenHash: text("token_hash").notNull().unique(),
    status: text("status", { enum: ["offline", "online", "draining"] })
      .notNull()
      .default("offline"),
    info: text("info", { mode: "json" }).$type<Record<string, unknown>>(),
    /** Mirrors the Dispatcher's flags: a disabled machine or instance takes no new job (it drains). */
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    disabledInstances: text("disabled_instances", { mode: "json" }).$type<string[]>().notNull().default([]),
    lastSeenAt: text("last_seen_at"),
    createdAt: createdAt(),
    deletedAt: text("deleted_at"),
  },
  (t) => [index("machines_user_idx").on(t.userId)],
);

export const RUN_STATUSES = [
  "not-started",
  "queued",
  "running",
  "uploading",
  "success",
  "failed",
  "cancelled",
  "timeout",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A run in one of these is finished for good. */
export const TERMINAL_STATUSES = ["success", "failed", "cancelled", "timeout"] as const satisfies RunStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];
export const isTerminal = (status: RunStatus): status is TerminalStatus =>
  (TERMINAL_STATUSES as readonly RunStatus[]).includes(status);

/** An output as stored on the run: the agent's report plus the file it became and a signed URL. */
export type StoredOutput = RunOutput & { file_id?: string; url?: string; created_at?: string };

/** Something a client should know about an accepted run (its check skipped, no machine online). */
export type RunWarning = { code: string; message: string };

/** Why a run failed: the agent's report (ComfyUI's details kept), or the control plane's own reason. */
export type RunError = { code: string; message: string } & Record<string, unknown>;

export const runs = sqliteTable(
  "runs",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    deploymentId: text("deployment_id"),
    workflowId: text("workflow_id"),
    workflowVersionId: text("workflow_version_id"),
    pool: text("pool").notNull().default("default"),
    status: text("status", { enum: RUN_STATUSES }).notNull().default("not-started"),
    priority: integer("priority").notNull().default(1),
    inputs: jsonText<Record<string, unknown>>("inputs", {}).notNull(),
    /** The graph as it runs: the deployment's pinned version, or the raw graph of an execution. */
    graph: jsonText<ApiGraph>("graph", {}).notNull(),
    /** Where each input lands in the graph (the deployment's input spec when the run was made). */
    bindings: text("bindings", { mode: "json" }).$type<InputBinding[]>().notNull(),
    outputs: jsonText<StoredOutput[]>("outputs"),
    error: jsonText<RunError>("error"),
    progress: jsonText<Progress>("progress"),
    metadata: jsonText<Record<string, unknown>>("metadata"),
    webhookUrl: text("webhook_url"),
    /** Also post non-terminal status changes to `webhookUrl` (ComfyDeploy's option). */
    webhookIntermediateStatus: integer("webhook_intermediate_status", { mode: "boolean" })
      .notNull()
      .default(false),
    timeoutMinutes: integer("timeout_minutes"),
    machineId: text("machine_id"),
    /** Required GPU, matched against the names machines report (case-insensitive substring). */
    gpu: text("gpu"),
    warnings: jsonText<RunWarning[]>("warnings"),
    /** The ComfyUI instance of that machine that holds (or held) the run's lease. */
    instanceId: text("instance_id"),
    promptId: text("prompt_id"),
    attempt: integer("attempt").notNull().default(0),
    retriedFrom: text("retried_from"),
    /** Older log lines removed to keep the newest MAX_LOGS_PER_RUN. */
    logsDropped: integer("logs_dropped").notNull().default(0),
    origin: text("origin", { enum: ["api", "execution"] })
      .notNull()
      .default("api"),
    createdAt: createdAt(),
    updatedAt: text("updated_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
    queuedAt: text("queued_at"),
    startedAt: text("started_at"),
    endedAt: text("ended_at"),
  },
  (t) => [
    index("runs_user_created_idx").on(t.userId, t.createdAt),
    index("runs_user_status_idx").on(t.userId, t.status),
    index("runs_deployment_idx").on(t.deploymentId),
  ],
);

export const runLogs = sqliteTable(
  "run_logs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    at: text("at").notNull(),
    level: text("level", { enum: ["DEBUG", "INFO", "WARNING", "ERROR"] }).notNull(),
    message: text("message").notNull(),
    nodeId: text("node_id"),
  },
  (t) => [index("run_logs_run_idx").on(t.runId, t.id)],
);

export type RunRow = typeof runs.$inferSelect;
export type NewRun = typeof runs.$inferInsert;
