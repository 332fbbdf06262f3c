import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import { userContext as ctxOf, requireUser, requireUserAdmittedBeforeWrites } from "../../middleware/auth";
import { limitBody, MiB } from "../../middleware/body-limit";
import { EXECUTION_STATUSES, RUN_STATUSES_OF, taskView } from "../../services/run-views";
import { cancelRun, queueGraphRun, readRun, searchRuns } from "../../services/runs";
import { envelope, TaskSchema } from "../fleet/schemas";
import { RunId } from "./schemas";

const tags = ["Tasks (seed 003)"];
const security = [{ bearerAuth: [] }];
const TaskParam = z.object({ id: RunId.openapi({ param: { name: "id", in: "path" } }) });

const SubmitSchema = z
  .object({
    workflow: z.record(z.string(), z.unknown()).openapi({
      description: "An API-format graph (or seed 004's typed list)",
      example: {
        "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
      },
    }),
    params: z
      .record(z.string(), z.unknown())
      .default({})
      .openapi({
        description:
          "Values bound into the graph: a key is a ComfyDeploy external input's `input_id`, or `<node id>.<input name>` to set that literal input of that node (a link cannot be overwritten). Types are checked as for deployment inputs; image inputs take a URL or file id.",
        example: { "1.width": 128 },
      }),
    pool: z.string().max(63).optional().openapi({ example: "default" }),
  })
  .strict()
  .openapi("SubmitTaskRequest");

export const taskRoutes = createRouter();
taskRoutes.use("/tasks", limitBody(5 * MiB));

taskRoutes.openapi(
  createRoute({
    method: "get",
    path: "/tasks",
    tags,
    security,
    summary: "The caller's tasks (runs), newest first",
    middleware: [requireUser] as const,
    request: {
      query: z.object({
        status: z.enum(EXECUTION_STATUSES).optional(),
        limit: z.coerce.number().int().min(1).max(100).default(20),
        offset: z.coerce.number().int().min(0).max(100_000).default(0),
      }),
    },
    responses: {
      200: jsonContent(
        envelope(z.object({ total: z.number().int(), items: z.array(TaskSchema) }), "TaskList"),
        "A page of tasks",
      ),
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { rows, total } = await searchRuns(c.var.db, c.var.principal.userId, {
      status: q.status ? RUN_STATUSES_OF[q.status] : undefined,
      limit: q.limit,
      offset: q.offset,
    });
    return c.json({ code: 200 as const, data: { total, items: rows.map(taskView) } }, 200);
  },
);

taskRoutes.openapi(
  createRoute({
    method: "post",
    path: "/tasks",
    tags,
    security,
    summary: "Submit a workflow with params",
    middleware: [requireUserAdmittedBeforeWrites] as const,
    request: { body: jsonBody(SubmitSchema) },
    responses: {
      200: jsonContent(
        envelope(TaskSchema.extend({ queuePosition: z.number().int().nullable() }), "SubmittedTask"),
        "Accepted",
      ),
      ...errorResponses(400, 401, 403, 413),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { run, position } = await queueGraphRun(ctxOf(c), body.workflow, {
      pool: body.pool,
      params: body.params,
    });
    return c.json({ code: 200 as const, data: { ...taskView(run), queuePosition: position } }, 200);
  },
);

taskRoutes.openapi(
  createRoute({
    method: "get",
    path: "/tasks/{id}",
    tags,
    security,
    summary: "One task",
    middleware: [requireUser] as const,
    request: { params: TaskParam },
    responses: {
      200: jsonContent(envelope(TaskSchema, "TaskResponse"), "The task"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const run = await readRun(ctxOf(c), c.req.valid("param").id);
    return c.json({ code: 200 as const, data: taskView(run) }, 200);
  },
);

taskRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/tasks/{id}",
    tags,
    security,
    summary: "Cancel a task (idempotent; a finished task is returned as it is)",
    middleware: [requireUser] as const,
    request: { params: TaskParam },
    responses: {
      200: jsonContent(envelope(TaskSchema, "CancelledTask"), "The task after the cancel"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const run = await cancelRun(ctxOf(c), c.req.valid("param").id);
    return c.json({ code: 200 as const, data: taskView(run) }, 200);
  },
);
