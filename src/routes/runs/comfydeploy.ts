import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { isTerminal, RUN_STATUSES, type RunStatus } from "../../db/schema";
import type { AppEnv } from "../../env";
import { AppError } from "../../lib/errors";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../../lib/openapi";
import {
  userContext as ctxOf,
  requireUser,
  requireUserAdmittedBeforeWrites,
  requireUserOrQueryToken,
} from "../../middleware/auth";
import { limitBody, MiB } from "../../middleware/body-limit";
import { comfyDeployRun, outputGroups, statusView } from "../../services/run-views";
import {
  cancelRun,
  openRunEvents,
  openRunSocket,
  queueDeploymentRun,
  queuePosition,
  readRun,
  searchRuns,
  waitForRun,
} from "../../services/runs";
import {
  OutputGroupSchema,
  QueuedSchema,
  QueueRunSchema,
  RunId,
  RunListQuery,
  RunSchema,
  runOptions,
  StatusSchema,
} from "./schemas";

const tags = ["Runs"];
const security = [{ bearerAuth: [] }];
const RunParam = z.object({ run_id: RunId.openapi({ param: { name: "run_id", in: "path" } }) });
const SYNC_DEFAULT_SECONDS = 300;

export const runRoutes = createRouter();
// Inputs travel inline (data URIs included) up to 1 MiB; larger files go through /api/file/upload first.
runRoutes.use("/run", limitBody(1 * MiB));
runRoutes.use("/run/*", limitBody(1 * MiB));

type QueueBody = z.infer<typeof QueueRunSchema>;
const queueBody = (c: Context<AppEnv>, body: QueueBody) =>
  queueDeploymentRun(ctxOf(c), body.deployment_id, body.inputs, {
    ...runOptions(c.env, body),
    gpu: body.gpu,
  });

/** The queue route and its seed 000/001 alias share one definition. */
for (const [path, summary] of [
  ["/run/deployment/queue", "Queue a run of a deployment"],
  ["/run", "Queue a run of a deployment (seeds 000 and 001)"],
] as const) {
  runRoutes.openapi(
    createRoute({
      method: "post",
      path,
      tags,
      security,
      summary,
      description:
        "Inputs are checked against the deployment's input spec. The run goes to an idle agent at once.",
      middleware: [requireUserAdmittedBeforeWrites] as const,
      request: { body: jsonBody(QueueRunSchema) },
      responses: {
        200: jsonContent(QueuedSchema, "Queued"),
        ...errorResponses(400, 401, 403, 404, 409, 413),
      },
    }),
    async (c) => {
      const { run, position } = await queueBody(c, c.req.valid("json"));
      return c.json({ run_id: run.id, status: run.status, queue_position: position }, 200);
    },
  );
}

runRoutes.openapi(
  createRoute({
    method: "post",
    path: "/run/deployment/sync",
    tags,
    security,
    summary: "Run a deployment and wait for its outputs",
    description:
      "Waits up to `sync_timeout_seconds` (default 300). A run that failed answers 422 with its error; one still running answers 504 with its id in `details`, to be polled.",
    middleware: [requireUserAdmittedBeforeWrites] as const,
    request: {
      body: jsonBody(
        QueueRunSchema.extend({ sync_timeout_seconds: z.number().int().min(1).max(900).optional() }).openapi(
          "SyncRunRequest",
        ),
      ),
    },
    responses: {
      200: jsonContent(z.array(OutputGroupSchema), "The run's outputs"),
      ...errorResponses(400, 401, 403, 404, 409, 413, 422, 504),
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const { run } = await queueBody(c, body);
    const ended = await waitForRun(
      ctxOf(c),
      run.id,
      (body.sync_timeout_seconds ?? SYNC_DEFAULT_SECONDS) * 1000,
    );
    c.header("X-Run-Id", run.id);
    c.header("X-Run-Status", ended.status);
    if (ended.status === "success") return c.json(outputGroups(ended), 200);
    const detail = [{ code: ended.status, message: `run ${run.id}`, field: "run_id" }];
    if (!isTerminal(ended.status)) {
      throw new AppError(
        "gateway_timeout",
        `Run ${run.id} is still ${ended.status}; poll GET /api/run/${run.id}`,
        detail,
      );
    }
    const reason = ended.error?.message ?? ended.status;
    // The run's error verbatim: ComfyUI's `comfy_error.type` and `node_errors` among it.
    const error = ended.error
      ? [{ code: ended.error.code, message: reason, field: "error", value: ended.error }]
      : [];
    throw new AppError("run_failed", `Run ${run.id} ended ${ended.status}: ${reason}`, [...detail, ...error]);
  },
);

runRoutes.openapi(
  createRoute({
    method: "post",
    path: "/run/deployment/stream",
    tags,
    security,
    summary: "Run a deployment and stream its events (SSE)",
    description:
      "Server-Sent Events as ComfyDeploy's SDK reads them: `event_update` and `log_update`, until the run ends.",
    middleware: [requireUser] as const,
    request: { body: jsonBody(QueueRunSchema) },
    responses: {
      200: { description: "An event stream", content: { "text/event-stream": { schema: z.string() } } },
      ...errorResponses(400, 401, 403, 404, 409, 413),
    },
  }),
  async (c) => {
    const { run } = await queueBody(c, c.req.valid("json"));
    const stream = await openRunEvents(ctxOf(c), run.id, { after: 0 }, "comfydeploy");
    stream.headers.set("X-Run-Id", run.id);
    return stream;
  },
);

runRoutes.openapi(
  createRoute({
    method: "get",
    path: "/run/{run_id}",
    tags,
    security,
    summary: "A run: status, progress and outputs (signed URLs)",
    middleware: [requireUser] as const,
    request: {
      params: RunParam,
      query: z.object({ queue_position: z.enum(["true", "false"]).optional() }),
    },
    responses: { 200: jsonContent(RunSchema, "The run"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const run = await readRun(ctxOf(c), c.req.valid("param").run_id);
    const wantPosition = c.req.valid("query").queue_position === "true";
    const position = wantPosition ? await queuePosition(c.env, run) : null;
    return c.json(comfyDeployRun(run, { queuePosition: position }), 200);
  },
);

runRoutes.openapi(
  createRoute({
    method: "get",
    path: "/run",
    tags,
    security,
    summary: "A run by `run_id` query parameter (seed 001)",
    middleware: [requireUser] as const,
    request: { query: z.object({ run_id: RunId }) },
    responses: { 200: jsonContent(RunSchema, "The run"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const run = await readRun(ctxOf(c), c.req.valid("query").run_id);
    return c.json(comfyDeployRun(run), 200);
  },
);

runRoutes.openapi(
  createRoute({
    method: "get",
    path: "/status/{run_id}",
    tags,
    security,
    summary: "A run's status with progress 0-100 (seed 000)",
    middleware: [requireUser] as const,
    request: { params: RunParam },
    responses: { 200: jsonContent(StatusSchema, "The status"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => c.json(statusView(await readRun(ctxOf(c), c.req.valid("param").run_id)), 200),
);

runRoutes.openapi(
  createRoute({
    method: "get",
    path: "/runs",
    tags,
    security,
    summary: "Your runs, newest first",
    middleware: [requireUser] as const,
    request: { query: RunListQuery },
    responses: {
      200: jsonContent(
        z.object({
          runs: z.array(RunSchema),
          total: z.number().int(),
          limit: z.number(),
          offset: z.number(),
        }),
        "A page of runs",
      ),
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const { rows, total } = await searchRuns(c.var.db, c.var.principal.userId, {
      status: parseStatuses(q.status),
      deploymentId: q.deployment_id,
      createdAfter: q.created_after,
      createdBefore: q.created_before,
      limit: q.limit,
      offset: q.offset,
    });
    return c.json({ runs: rows.map((r) => comfyDeployRun(r)), total, limit: q.limit, offset: q.offset }, 200);
  },
);

runRoutes.openapi(
  createRoute({
    method: "post",
    path: "/run/{run_id}/cancel",
    tags,
    security,
    summary: "Cancel a run (idempotent)",
    description: "A waiting run is cancelled at once; a running one is interrupted on its agent.",
    middleware: [requireUser] as const,
    request: { params: RunParam },
    responses: {
      200: jsonContent(
        z.object({ run_id: z.string(), status: z.enum(RUN_STATUSES), message: z.string() }),
        "Done",
      ),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const run = await cancelRun(ctxOf(c), c.req.valid("param").run_id);
    const message = run.status === "cancelled" ? "Run cancelled" : `Run already ${run.status}`;
    return c.json({ run_id: run.id, status: run.status, message }, 200);
  },
);

const LiveQuery = z.object({
  after: z.coerce.number().int().min(0).optional().openapi({ description: "Resume after this event number" }),
  token: z.string().optional().openapi({ description: "A credential, for clients that cannot set headers" }),
});

runRoutes.openapi(
  createRoute({
    method: "get",
    path: "/run/{run_id}/ws",
    tags,
    security,
    summary: "Live events of a run over a WebSocket",
    description:
      "A `snapshot` first, then every event in order with its number `seq`. Reconnect with `?after=<last seq>` to get what you missed.",
    middleware: [requireUserOrQueryToken] as const,
    request: { params: RunParam, query: LiveQuery },
    responses: { 101: { description: "Switching protocols" }, ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const upgrade = c.req.header("Upgrade")?.toLowerCase() === "websocket";
    return openRunSocket(
      ctxOf(c),
      c.req.valid("param").run_id,
      { after: c.req.valid("query").after },
      upgrade,
    );
  },
);

runRoutes.openapi(
  createRoute({
    method: "get",
    path: "/run/{run_id}/events",
    tags,
    security,
    summary: "Live events of a run as Server-Sent Events",
    description: "Supports `Last-Event-ID` (or `?after=`) to replay what a reconnecting client missed.",
    middleware: [requireUserOrQueryToken] as const,
    request: { params: RunParam, query: LiveQuery },
    responses: {
      200: { description: "An event stream", content: { "text/event-stream": { schema: z.string() } } },
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const resume = { after: c.req.valid("query").after, lastEventId: c.req.header("Last-Event-ID") };
    return openRunEvents(ctxOf(c), c.req.valid("param").run_id, resume);
  },
);

function parseStatuses(value: string | undefined): RunStatus[] | undefined {
  if (!value) return undefined;
  const statuses = value.split(",").map((s) => s.trim());
  const bad = statuses.filter((s) => !(RUN_STATUSES as readonly string[]).includes(s));
  if (bad.length) {
    throw new AppError("validation_error", "Invalid query parameters", [
      { code: "INVALID_VALUE", message: `Unknown status: ${bad.join(", ")}`, field: "status" },
    ]);
  }
  return statuses as RunStatus[];
}
