import type { Db } from "../db/client";
import type { RunStatus } from "../db/schema";
import type { Bindings } from "../env";
import { AppError, notFound } from "../lib/errors";
import { deriveInputSpec, validateRunInputs } from "../lib/graph";
import { newId } from "../lib/ids";
import type { ApiGraph, InputBinding } from "../protocol/graph";
import {
  advanceRun,
  findRun,
  insertRun,
  isTerminal,
  listLogs,
  listRuns,
  type NewLog,
  type RunFilters,
  type RunRow,
} from "../stores/runs";
import { resolveDeploymentForRun } from "./deployments";
import { dispatcher } from "./dispatcher-client";
import { reportedDefinitions } from "./node-definitions";
import { resolveInputFileUrls, withFreshOutputUrls } from "./run-outputs";
import { publishStatus, runRoom, toSnapshot } from "./run-room-client";
import { graphFromDocument } from "./workflows";

export const PRIORITIES = { low: 0, normal: 1, high: 2 } as const;
export type Priority = keyof typeof PRIORITIES;

export type RunOptions = {
  priority?: Priority;
  webhook?: string | null;
  timeoutMinutes?: number | null;
  metadata?: Record<string, unknown> | null;
};

type Context = { env: Bindings; db: Db; userId: string; origin: string };

/** Queues a run of a deployment: inputs checked against its input spec, then pushed to its pool. */
export async function queueDeploymentRun(
  ctx: Context,
  deploymentId: string,
  inputs: Record<string, unknown>,
  options: RunOptions,
) {
  const { deployment, graph, inputSpec } = await resolveDeploymentForRun(ctx.db, ctx.userId, deploymentId);
  const values = validateRunInputs(inputSpec, inputs);
  return createAndEnqueue(ctx, {
    graph,
    bindings: inputSpec,
    inputs: values,
    pool: deployment.pool,
    deploymentId: deployment.id,
    workflowId: deployment.workflowId,
    workflowVersionId: deployment.workflowVersionId,
    origin: "api",
    options,
  });
}

/**
 * Queues a raw graph (seed 004's execute): the API format, the typed-list form, or ComfyUI's UI format
 * converted with the node definitions the machines of the pool that runs it report.
 */
export async function queueGraphRun(
  ctx: Context,
  workflow: unknown,
  options: RunOptions & { pool?: string },
) {
  const pool = options.pool ?? "default";
  const definitions = () => reportedDefinitions(ctx.db, ctx.env.BUCKET, ctx.userId, pool);
  const graph = await graphFromDocument(workflow, definitions, "workflow");
  const bindings = deriveInputSpec(graph);
  return createAndEnqueue(ctx, {
    graph,
    bindings,
    inputs: validateRunInputs(bindings, {}),
    pool,
    origin: "execution",
    options,
  });
}

type NewRunSpec = {
  graph: ApiGraph;
  bindings: InputBinding[];
  inputs: Record<string, unknown>;
  pool: string;
  deploymentId?: string;
  workflowId?: string;
  workflowVersionId?: string;
  origin: RunRow["origin"];
  options: RunOptions;
  retriedFrom?: string;
};

async function createAndEnqueue(ctx: Context, spec: NewRunSpec) {
  const inputUrls = await resolveInputFileUrls(ctx, spec.bindings, spec.inputs);
  const priority = PRIORITIES[spec.options.priority ?? "normal"];
  const row = await insertRun(ctx.db, {
    id: newId(),
    userId: ctx.userId,
    deploymentId: spec.deploymentId,
    workflowId: spec.workflowId,
    workflowVersionId: spec.workflowVersionId,
    pool: spec.pool,
    priority,
    inputs: spec.inputs,
    graph: spec.graph,
    bindings: spec.bindings,
    metadata: spec.options.metadata ?? null,
    webhookUrl: spec.options.webhook ?? null,
    timeoutMinutes: spec.options.timeoutMinutes ?? null,
    origin: spec.origin,
    retriedFrom: spec.retriedFrom,
  });
  const timeout = spec.options.timeoutMinutes;
  // Enqueue first so the job reaches an idle agent without waiting on the room; a room that already
  // has events ignores the late init.
  const { position } = await dispatcher(ctx.env, ctx.userId, spec.pool).enqueue({
    runId: row.id,
    userId: ctx.userId,
    priority,
    attempt: 1,
    deadlineAt: timeout ? Date.parse(row.createdAt) + timeout * 60_000 : null,
    payload: { graph: spec.graph, inputs: spec.inputs, bindings: spec.bindings, input_urls: inputUrls },
  });
  await runRoom(ctx.env, row.id).init(toSnapshot(row));
  return { run: row, position };
}

export async function getRun(db: Db, userId: string, runId: string): Promise<RunRow> {
  const row = await findRun(db, userId, runId);
  if (!row) throw notFound("Run");
  return row;
}

/** A run as a client reads it: owned by the caller, with output URLs signed for the caller's origin. */
export async function readRun(ctx: Context, runId: string): Promise<RunRow> {
  return withFreshOutputUrls(ctx.env, ctx.origin, await getRun(ctx.db, ctx.userId, runId));
}

/** Waiting runs ahead of this one in its pool's queue; null once it has left the queue. */
export async function queuePosition(env: Bindings, run: RunRow): Promise<number | null> {
  if (run.status !== "not-started") return null;
  return dispatcher(env, run.userId, run.pool).position(run.id);
}

/**
 * Cancels a run. It is final at once; an agent running it is told to stop, and whatever it reports
 * afterwards changes nothing. Cancelling a finished run is a no-op that returns it as it is.
 */
export async function cancelRun(ctx: Context, runId: string): Promise<RunRow> {
  const run = await getRun(ctx.db, ctx.userId, runId);
  if (isTerminal(run.status)) return run;
  const cancelled = await advanceRun(ctx.db, run.id, "cancelled");
  await dispatcher(ctx.env, ctx.userId, run.pool).cancel(run.id, "cancelled");
  if (!cancelled) return getRun(ctx.db, ctx.userId, runId);
  await publishStatus(ctx.env, cancelled);
  return cancelled;
}

const RETRYABLE: RunStatus[] = ["failed", "cancelled", "timeout"];

/** A new run with the same graph, inputs and options, recording where it came from. */
export async function retryRun(ctx: Context, runId: string) {
  const run = await getRun(ctx.db, ctx.userId, runId);
  if (!RETRYABLE.includes(run.status)) {
    throw new AppError(
      "conflict",
      `Only failed, cancelled or timed-out runs can be retried; this one is ${run.status}`,
    );
  }
  return createAndEnqueue(ctx, {
    graph: run.graph as ApiGraph,
    bindings: run.bindings,
    inputs: run.inputs,
    pool: run.pool,
    deploymentId: run.deploymentId ?? undefined,
    workflowId: run.workflowId ?? undefined,
    workflowVersionId: run.workflowVersionId ?? undefined,
    origin: run.origin,
    options: {
      priority: priorityName(run.priority),
      webhook: run.webhookUrl,
      timeoutMinutes: run.timeoutMinutes,
      metadata: run.metadata,
    },
    retriedFrom: run.id,
  });
}

export const priorityName = (value: number): Priority =>
  (Object.entries(PRIORITIES).find(([, v]) => v === value)?.[0] as Priority) ?? "normal";

/**
 * Waits until the run ends or `timeoutMs` passes; returns the latest row either way. The row is final
 * when the room says so, because D1 is written before each status event is published.
 */
export async function waitForRun(ctx: Context, runId: string, timeoutMs: number): Promise<RunRow> {
  await runRoom(ctx.env, runId).waitForEnd(timeoutMs);
  return getRun(ctx.db, ctx.userId, runId);
}

export const searchRuns = (db: Db, userId: string, filters: RunFilters) => listRuns(db, userId, filters);

export async function runLogs(
  db: Db,
  userId: string,
  runId: string,
  opts: { levels?: NewLog["level"][]; tail: number },
) {
  await getRun(db, userId, runId);
  return listLogs(db, runId, opts);
}
