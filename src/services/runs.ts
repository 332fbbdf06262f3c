import type { Db } from "../db/client";
import { isTerminal, type RunWarning } from "../db/schema";
import { dispatcherClient } from "../durable/dispatcher/client";
import { type Resume, runRoomClient } from "../durable/run-room/client";
import type { SseFormat } from "../durable/run-room/sse-hub";
import type { Bindings } from "../env";
import { AppError, notFound } from "../lib/errors";
import { deriveInputSpec, paramBindings, validateRunInputs } from "../lib/graph";
import { newId, nowIso } from "../lib/ids";
import type { ApiGraph, InputBinding } from "../protocol/graph";
import { changeRunStatus } from "../runs/lifecycle";
import { withFreshOutputUrls } from "../runs/outputs";
import { type PoolState, readPoolState } from "../stores/pool-state";
import { findRun, listLogs, listRuns, type NewLog, type RunFilters, type RunRow } from "../stores/runs";
import { resolveDeploymentForRun } from "./deployments";
import { checkGpuRequirement } from "./gpu-requirement";
import { checkNodeClasses } from "./graph-check";
import { graphAsRun, requiredModels } from "./model-requirements";
import { reportedDefinitions } from "./node-definitions";
import { resolveJobInputs } from "./run-inputs";
import { graphFromDocument } from "./workflows";

export const PRIORITIES = { low: 0, normal: 1, high: 2 } as const;
export type Priority = keyof typeof PRIORITIES;

export type RunOptions = {
  priority?: Priority;
  webhook?: string | null;
  webhookIntermediateStatus?: boolean;
  timeoutMinutes?: number | null;
  metadata?: Record<string, unknown> | null;
  /** Run only on a machine reporting a GPU whose name contains this (case-insensitive). */
  gpu?: string | null;
};

/** `admitted`: the request's rate-limit verdict, awaited before the run is written (see the auth middleware). */
type Context = { env: Bindings; db: Db; userId: string; origin: string; admitted?: Promise<void> };

/** Queues a run of a deployment: inputs checked against its input spec, then pushed to its pool. */
export async function queueDeploymentRun(
  ctx: Context,
  deploymentId: string,
  inputs: Record<string, unknown>,
  options: RunOptions,
) {
  const { deployment, graph, inputSpec, poolState } = await resolveDeploymentForRun(
    ctx.db,
    ctx.userId,
    deploymentId,
  );
  const values = validateRunInputs(inputSpec, inputs);
  return createAndEnqueue(ctx, {
    graph,
    bindings: inputSpec,
    inputs: values,
    pool: deployment.pool,
    machineId: deployment.machineId,
    deploymentId: deployment.id,
    workflowId: deployment.workflowId,
    workflowVersionId: deployment.workflowVersionId,
    origin: "api",
    options,
    poolState,
  });
}

/**
 * Queues a raw graph (seed 004's execute, seed 003's task): the API format, the typed-list form, or
 * ComfyUI's UI format converted with the node definitions the machines of the pool that runs it report.
 */
export async function queueGraphRun(
  ctx: Context,
  workflow: unknown,
  options: RunOptions & { pool?: string; params?: Record<string, unknown> },
) {
  const pool = options.pool ?? "default";
  const definitions = () => reportedDefinitions(ctx.db, ctx.env.BUCKET, ctx.userId, pool);
  const graph = await graphFromDocument(workflow, definitions, "workflow");
  const params = options.params ?? {};
  const bindings = deriveInputSpec(graph, paramBindings(graph, params), "params");
  return createAndEnqueue(ctx, {
    graph,
    bindings,
    inputs: validateRunInputs(bindings, params),
    pool,
    origin: "execution",
    options,
  });
}

/** Queues a graph with no inputs on one machine of a pool (a model warm-up). */
export async function queueMachineRun(
  ctx: Context,
  graph: ApiGraph,
  target: { pool: string; machineId: string },
  options: RunOptions,
) {
  return createAndEnqueue(ctx, { graph, bindings: [], inputs: {}, origin: "api", options, ...target });
}

type NewRunSpec = {
  graph: ApiGraph;
  bindings: InputBinding[];
  inputs: Record<string, unknown>;
  pool: string;
  /** Pinned: the run may only go to this machine. */
  machineId?: string | null;
  deploymentId?: string;
  workflowId?: string;
  workflowVersionId?: string;
  origin: RunRow["origin"];
  options: RunOptions;
  retriedFrom?: string;
  /** The pool's state when the caller read it already (with the deployment); read here otherwise. */
  poolState?: PoolState;
};

const noMachineOnline = (pool: string): RunWarning => ({
  code: "no_machine_online",
  message: `No machine of pool "${pool}" is online; the run waits in the queue until one connects`,
});

/**
 * What a new run is checked against before it is queued: the GPU it asks for, the node classes and
 * model files of the machines that may run it, and its inputs' files (the pool's state and the files are
 * read at once; the checks then fail in a fixed order).
 */
async function checkNewRun(ctx: Context, spec: NewRunSpec, gpu: string | null) {
  if (gpu) await checkGpuRequirement(ctx.db, ctx.userId, spec, gpu);
  const [pool, inputs] = await Promise.allSettled([
    spec.poolState ?? readPoolState(ctx.db, ctx.userId, spec),
    resolveJobInputs(ctx, spec.bindings, spec.inputs),
  ]);
  if (pool.status === "rejected") throw pool.reason;
  const warnings = await checkNodeClasses(ctx, spec.graph, spec.pool, pool.value.definitionHashes);
  if (inputs.status === "rejected") throw inputs.reason;
  const jobInputs = inputs.value;
  // Bound (a copy of the graph) only when some instance in scope reported an inventory to check.
  const runGraph = () => graphAsRun(spec.graph, spec.bindings, jobInputs);
  const models = await requiredModels(ctx, runGraph, spec, pool.value.instances);
  return { warnings, jobInputs, models };
}

async function createAndEnqueue(ctx: Context, spec: NewRunSpec) {
  const gpu = spec.options.gpu ?? null;
  const { warnings, jobInputs, models } = await checkNewRun(ctx, spec, gpu);
  const priority = PRIORITIES[spec.options.priority ?? "normal"];
  const runId = newId();
  const createdAt = nowIso();
  const timeout = spec.options.timeoutMinutes;
  await ctx.admitted;
  // The Dispatcher writes the row (the graph and bindings from the job) beside sending the job, and
  // answers once it exists; the row's warnings reach the run's room on the Dispatcher's chain.
  const queued = await dispatcherClient(ctx.env, ctx.userId, spec.pool).enqueue(
    {
      runId,
      userId: ctx.userId,
      priority,
      attempt: 1,
      deadlineAt: timeout ? Date.parse(createdAt) + timeout * 60_000 : null,
      payload: {
        graph: spec.graph,
        bindings: spec.bindings,
        ...jobInputs,
        machine_id: spec.machineId ?? null,
        gpu,
        models,
      },
    },
    {
      id: runId,
      userId: ctx.userId,
      deploymentId: spec.deploymentId,
      workflowId: spec.workflowId,
      workflowVersionId: spec.workflowVersionId,
      pool: spec.pool,
      priority,
      inputs: spec.inputs,
      metadata: spec.options.metadata ?? null,
      webhookUrl: spec.options.webhook ?? null,
      webhookIntermediateStatus: spec.options.webhookIntermediateStatus ?? false,
      timeoutMinutes: timeout ?? null,
      origin: spec.origin,
      retriedFrom: spec.retriedFrom,
      warnings: warnings.length > 0 ? warnings : null,
      gpu,
      createdAt,
    },
    noMachineOnline(spec.pool),
  );
  const run: RunRow = { ...queued.run, graph: spec.graph, inputs: spec.inputs, bindings: spec.bindings };
  return { run, position: queued.position };
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
  return dispatcherClient(env, run.userId, run.pool).position(run.id);
}

/**
 * Cancels a run. It is final at once; an agent running it is told to stop, and whatever it uploads or
 * reports afterwards is discarded. The Dispatcher decides, in order with the agent's reports, so a run
 * whose success it already recorded stays a success. Cancelling a finished run returns it as it is.
 */
export async function cancelRun(ctx: Context, runId: string): Promise<RunRow> {
  const run = await getRun(ctx.db, ctx.userId, runId);
  if (isTerminal(run.status)) return run;
  const outcome = await dispatcherClient(ctx.env, ctx.userId, run.pool).cancel(run.id, "cancelled");
  // A run its queue does not hold (never enqueued, or already finished) is cancelled here if still live.
  if (outcome === "unknown") await changeRunStatus(ctx, run.id, "cancelled");
  return getRun(ctx.db, ctx.userId, runId);
}

/** A new run with the same graph, inputs and options, recording where it came from. */
export async function retryRun(ctx: Context, runId: string) {
  const run = await getRun(ctx.db, ctx.userId, runId);
  // Only a run that ended without succeeding can be tried again.
  if (!isTerminal(run.status) || run.status === "success") {
    throw new AppError(
      "conflict",
      `Only failed, cancelled or timed-out runs can be retried; this one is ${run.status}`,
    );
  }
  return createAndEnqueue(ctx, {
    graph: run.graph,
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
      webhookIntermediateStatus: run.webhookIntermediateStatus,
      timeoutMinutes: run.timeoutMinutes,
      metadata: run.metadata,
      gpu: run.gpu,
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
  await runRoomClient(ctx.env, runId).waitForEnd(timeoutMs);
  return readRun(ctx, runId);
}

/** A live WebSocket of the caller's run: a snapshot, then every event after `resume`. */
export async function openRunSocket(
  ctx: Context,
  runId: string,
  resume: Resume,
  upgrade: boolean,
): Promise<Response> {
  const run = await getRun(ctx.db, ctx.userId, runId);
  if (!upgrade) throw new AppError("bad_request", "This endpoint takes a WebSocket upgrade");
  return runRoomClient(ctx.env, run.id).openSocket(run, resume);
}

/** A Server-Sent-Events stream of the caller's run. */
export async function openRunEvents(
  ctx: Context,
  runId: string,
  resume: Resume,
  format: SseFormat = "native",
): Promise<Response> {
  const run = await getRun(ctx.db, ctx.userId, runId);
  return runRoomClient(ctx.env, run.id).openEventStream(run, resume, format);
}

export const searchRuns = (db: Db, userId: string, filters: RunFilters) => listRuns(db, userId, filters);

export async function runLogs(
  db: Db,
  userId: string,
  runId: string,
  opts: { levels?: NewLog["level"][]; tail: number },
) {
  const run = await getRun(db, userId, runId);
  return { ...(await listLogs(db, runId, opts)), dropped: run.logsDropped };
}
