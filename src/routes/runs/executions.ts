import { createRoute, z } from "@hono/zod-openapi";
import { RUN_STATUSES } from "../../db/schema";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import { userContext as ctxOf, requireUser, requireUserAdmittedBeforeWrites } from "../../middleware/auth";
import { limitBody, MiB } from "../../middleware/body-limit";
import {
  EXECUTION_STATUSES,
  executionStatusView,
  executionView,
  logView,
  runStatusesFor,
} from "../../services/run-views";
import {
  cancelRun,
  getRun,
  queueGraphRun,
  queuePosition,
  readRun,
  retryRun,
  runLogs,
  searchRuns,
} from "../../services/runs";
import { RunId, RunOptionsSchema, RunSchema, RunWarningsSchema, runOptions } from "./schemas";

const tags = ["Executions (seed 004)"];
const security = [{ bearerAuth: [] }];
const ExecutionParam = z.object({
  execution_id: RunId.openapi({ param: { name: "execution_id", in: "path" } }),
});
const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"] as const;

const ExecuteSchema = z
  .object({
    workflow: z.record(z.string(), z.unknown()).openapi({
      description:
        "An API-format graph, or seed 004's `{nodes: {id: {class_type, inputs: [{name, value}]}}}`",
      example: {
        "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
      },
    }),
    pool: z.string().max(63).optional().openapi({ example: "default" }),
    ...RunOptionsSchema,
  })
  .openapi("ExecuteWorkflowRequest");

const LogSchema = z.object({
  timestamp: z.string(),
  level: z.enum(LEVELS),
  message: z.string(),
  node_id: z.string().nullable(),
});

const ExecutionHeadSchema = z.object({
  execution_id: z.string(),
  status: z.enum(EXECUTION_STATUSES),
  raw_status: z.enum(RUN_STATUSES),
  created_at: z.string(),
  started_at: z.string().nullable(),
});

const ExecutionSchema = ExecutionHeadSchema.extend({
  completed_at: z.string().nullable(),
  duration_seconds: z.number().nullable(),
  outputs: RunSchema.shape.workflow_outputs,
  error: z.string().nullable(),
  error_details: RunSchema.shape.error,
  logs: z.array(LogSchema),
  metadata: z.record(z.string(), z.unknown()),
  retried_from: z.string().nullable(),
  warnings: RunWarningsSchema,
}).openapi("Execution");

const ExecutionStatusSchema = ExecutionHeadSchema.extend({
  queue_position: z.number().int().nullable(),
  progress: z.object({
    current_step: z.number(),
    total_steps: z.number(),
    percentage: z.number(),
    current_node: z.string().nullable(),
    eta_seconds: z.number().nullable(),
  }),
  estimated_completion: z.string().nullable(),
}).openapi("ExecutionStatus");

export const executionRoutes = createRouter();
// Real workflows run from a few KB to a few hundred KB; 5 MiB leaves room without inviting abuse.
executionRoutes.use("/workflows/execute", limitBody(5 * MiB));

executionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workflows/execute",
    tags,
    security,
    summary: "Execute a raw workflow graph",
    middleware: [requireUserAdmittedBeforeWrites] as const,
    request: { body: jsonBody(ExecuteSchema) },
    responses: {
      200: jsonContent(
        z.object({
          execution_id: z.string(),
          status: z.literal("pending"),
          created_at: z.string(),
          estimated_duration: z.number().nullable(),
          queue_position: z.number().int().nullable(),
        }),
        "Accepted",
      ),
      ...errorResponses(400, 401, 403, 413),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { run, position } = await queueGraphRun(ctxOf(c), body.workflow, {
      ...runOptions(c.env, body),
      pool: body.pool,
    });
    return c.json(
      {
        execution_id: run.id,
        status: "pending" as const,
        created_at: run.createdAt,
        estimated_duration: null,
        queue_position: position,
      },
      200,
    );
  },
);

executionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflows/",
    tags,
    security,
    summary: "List executions (`/workflows/`, or `/workflows` at the host root, or with `status`)",
    middleware: [requireUser] as const,
    request: {
      query: z
        .object({
          status: z.enum(EXECUTION_STATUSES).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(20),
          offset: z.coerce.number().int().min(0).max(100_000).default(0),
        })
        .strict(),
    },
    responses: {
      200: jsonContent(z.array(ExecutionSchema), "Executions, newest first"),
      ...errorResponses(400, 401),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { rows } = await searchRuns(c.var.db, c.var.principal.userId, {
      status: q.status ? runStatusesFor(q.status) : undefined,
      limit: q.limit,
      offset: q.offset,
    });
    return c.json(
      rows.map((r) => executionView(r)),
      200,
    );
  },
);

executionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflows/{execution_id}",
    tags,
    security,
    summary: "An execution's result, with its logs",
    middleware: [requireUser] as const,
    request: { params: ExecutionParam },
    responses: { 200: jsonContent(ExecutionSchema, "The execution"), ...errorResponses(401, 404) },
  }),
  async (c) => {
    const id = c.req.valid("param").execution_id;
    const { rows } = await runLogs(c.var.db, c.var.principal.userId, id, { tail: 100 });
    const run = await readRun(ctxOf(c), id);
    return c.json(executionView(run, rows.map(logView)), 200);
  },
);

executionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflows/{execution_id}/status",
    tags,
    security,
    summary: "An execution's live status: step, percentage, node and ETA",
    middleware: [requireUser] as const,
    request: { params: ExecutionParam },
    responses: {
      200: jsonContent(ExecutionStatusSchema, "The status"),
      ...errorResponses(401, 404),
    },
  }),
  async (c) => {
    const run = await getRun(c.var.db, c.var.principal.userId, c.req.valid("param").execution_id);
    return c.json(executionStatusView(run, await queuePosition(c.env, run)), 200);
  },
);

executionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workflows/{execution_id}/cancel",
    tags,
    security,
    summary: "Cancel an execution (idempotent)",
    middleware: [requireUser] as const,
    request: { params: ExecutionParam },
    responses: {
      200: jsonContent(z.object({ message: z.string(), status: z.string() }), "Done"),
      ...errorResponses(401, 404),
    },
  }),
  async (c) => {
    const run = await cancelRun(ctxOf(c), c.req.valid("param").execution_id);
    const message =
      run.status === "cancelled" ? "Workflow cancelled successfully" : `Workflow already ${run.status}`;
    return c.json({ message, status: run.status }, 200);
  },
);

executionRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workflows/{execution_id}/retry",
    tags,
    security,
    summary: "Retry a failed, cancelled or timed-out execution as a new one",
    middleware: [requireUserAdmittedBeforeWrites] as const,
    request: { params: ExecutionParam },
    responses: {
      200: jsonContent(
        z.object({
          execution_id: z.string(),
          status: z.literal("pending"),
          queue_position: z.number().int().nullable(),
          retried_from: z.string(),
        }),
        "The new execution",
      ),
      ...errorResponses(401, 404, 409),
    },
  }),
  async (c) => {
    const id = c.req.valid("param").execution_id;
    const { run, position } = await retryRun(ctxOf(c), id);
    return c.json(
      { execution_id: run.id, status: "pending" as const, queue_position: position, retried_from: id },
      200,
    );
  },
);

executionRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflows/{execution_id}/logs",
    tags,
    security,
    summary: "An execution's logs",
    middleware: [requireUser] as const,
    request: {
      params: ExecutionParam,
      query: z.object({
        level: z.enum(LEVELS).optional().openapi({ description: "This level and above" }),
        tail: z.coerce.number().int().min(1).max(1000).default(100),
      }),
    },
    responses: {
      200: jsonContent(
        z.object({
          execution_id: z.string(),
          logs: z.array(LogSchema),
          total_count: z.number().int(),
          dropped_count: z.number().int().openapi({
            description: "Older lines removed to keep each run's newest (they are not in total_count)",
          }),
          filtered: z.boolean(),
        }),
        "Logs, oldest first",
      ),
      ...errorResponses(400, 401, 404),
    },
  }),
  async (c) => {
    const id = c.req.valid("param").execution_id;
    const { level, tail } = c.req.valid("query");
    const levels = level ? LEVELS.slice(LEVELS.indexOf(level)) : undefined;
    const { rows, total, dropped } = await runLogs(c.var.db, c.var.principal.userId, id, {
      levels: levels ? [...levels] : undefined,
      tail,
    });
    return c.json(
      {
        execution_id: id,
        logs: rows.map(logView),
        total_count: total,
        dropped_count: dropped,
        filtered: !!level,
      },
      200,
    );
  },
);
