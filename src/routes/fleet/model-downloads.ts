import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonContent } from "../../lib/openapi";
import { requireUser } from "../../middleware/auth";
import { ModelName } from "../../protocol/v1";
import {
  cleanupModelDisk,
  deleteModelFromDisk,
  modelDownloadProgress,
  startModelDownload,
} from "../../services/model-downloads";
import { ModelType } from "./models";

const NameParam = z.object({
  // The protocol's schema (zod/mini) decides; this one carries the OpenAPI description.
  model_name: z
    .string()
    .refine((name) => ModelName.safeParse(name).success, {
      message: "must be a file name (plain segments joined by /, no . or .. segment, no backslash)",
    })
    .openapi({
      param: { name: "model_name", in: "path" },
      description: "The file name in its model folder (a subfolder as `sub%2Fname.safetensors`)",
      example: "v1-5-pruned-emaonly.safetensors",
    }),
});

const TargetQuery = {
  machine_id: z.string().min(1).max(64).optional().openapi({ description: "Only this machine" }),
  pool: z.string().min(1).max(64).optional().openapi({ description: "Every machine of this pool" }),
};

const DownloadViewSchema = z
  .object({
    download_id: z.string(),
    machine_id: z.string(),
    status: z.enum(["pending", "downloading", "completed", "failed"]),
    bytes_done: z.number().int(),
    bytes_total: z.number().int().nullable(),
    progress: z.number().nullable().openapi({ description: "0–1; null while the size is unknown" }),
    expected_sha256: z.string().nullable(),
    sha256: z.string().nullable().openapi({ description: "The SHA-256 of the file that landed" }),
    error: z.string().nullable(),
    source: z.union([z.object({ url: z.string() }), z.object({ file_id: z.string() })]).openapi({
      description: "The source URL without its query, or the stored file",
    }),
    description: z.string().nullable(),
    created_at: z.string(),
    finished_at: z.string().nullable(),
  })
  .openapi("ModelDownload");

const DownloadStartedSchema = z
  .object({
    message: z.string(),
    model_name: z.string(),
    model_type: z.string(),
    downloads: z.array(
      z.object({
        download_id: z.string(),
        machine_id: z.string(),
        status: z.literal("pending"),
        sent: z
          .boolean()
          .openapi({ description: "False: the machine is offline; it gets it when it connects" }),
      }),
    ),
  })
  .openapi("ModelDownloadStarted");

const DownloadProgressSchema = z
  .object({
    model_name: z.string(),
    is_downloading: z.boolean(),
    download_progress: z.number().nullable(),
    is_available: z.boolean(),
    downloads: z.array(DownloadViewSchema).openapi({ description: "The newest download on each machine" }),
  })
  .openapi("ModelDownloadProgress");

const RemovalSchema = z.object({
  message: z.string(),
  request_id: z.string().openapi({ description: "Names the `models_removed` events on `/ws`" }),
  machines: z.array(z.string()).openapi({ description: "The machines whose agents were asked" }),
});

const tags = ["Models"];
const security = [{ bearerAuth: [] }];

export const modelDownloadRoutes = createRouter();

modelDownloadRoutes.openapi(
  createRoute({
    method: "post",
    path: "/models/{model_name}/download",
    tags,
    security,
    middleware: [requireUser],
    summary: "Download a model file onto a machine, a pool, or every machine (by URL or from your files)",
    description:
      "Each target machine's agent downloads into ComfyUI's models folder for the type: resumed with HTTP Range after a drop, checked against `sha256` when given, written aside and renamed only when complete. The URL must reach a public address (checked by the agent). Progress: `GET /models/{model_name}/download-progress` and `model_download_*` events on `/ws`.",
    request: {
      params: NameParam,
      query: z.object({
        model_type: ModelType,
        download_url: z.string().min(1).max(4096).optional().openapi({ description: "An http(s) URL" }),
        file_id: z
          .string()
          .min(1)
          .max(64)
          .optional()
          .openapi({ description: "A file of yours, instead of a URL" }),
        description: z.string().max(1000).optional(),
        sha256: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/)
          .transform((hash) => hash.toLowerCase())
          .optional()
          .openapi({ description: "The SHA-256 the file must have; a mismatch fails and leaves no file" }),
        ...TargetQuery,
      }),
    },
    responses: {
      202: jsonContent(DownloadStartedSchema, "Recorded and sent to the connected machines"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { model_name } = c.req.valid("param");
    const query = c.req.valid("query");
    const ctx = { env: c.env, db: c.var.db, userId: c.var.principal.userId };
    const started = await startModelDownload(ctx, {
      name: model_name,
      type: query.model_type,
      downloadUrl: query.download_url,
      fileId: query.file_id,
      sha256: query.sha256,
      description: query.description,
      machineId: query.machine_id,
      pool: query.pool,
    });
    return c.json(started, 202);
  },
);

modelDownloadRoutes.openapi(
  createRoute({
    method: "get",
    path: "/models/{model_name}/download-progress",
    tags,
    security,
    middleware: [requireUser],
    summary: "How far the model's downloads are, across the machines they were sent to",
    request: { params: NameParam, query: z.object({ model_type: ModelType.optional() }) },
    responses: {
      200: jsonContent(DownloadProgressSchema, "The downloads"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { model_name } = c.req.valid("param");
    const { model_type } = c.req.valid("query");
    return c.json(await modelDownloadProgress(c.var.db, c.var.principal.userId, model_name, model_type), 200);
  },
);

modelDownloadRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/models/{model_name}",
    tags,
    security,
    middleware: [requireUser],
    summary: "Delete a model file from the disks of the target machines that have it",
    description:
      "Never a file a running job on that machine uses, never anything outside ComfyUI's models folder. What each agent removed or kept arrives as a `models_removed` event on `/ws`; the model list follows.",
    request: { params: NameParam, query: z.object({ model_type: ModelType.optional(), ...TargetQuery }) },
    responses: {
      202: jsonContent(
        RemovalSchema.extend({ model_name: z.string(), model_type: z.string() }),
        "Sent to the machines",
      ),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { model_name } = c.req.valid("param");
    const { model_type, ...target } = c.req.valid("query");
    const ctx = { env: c.env, db: c.var.db, userId: c.var.principal.userId };
    const requested = await deleteModelFromDisk(ctx, model_name, model_type, {
      machineId: target.machine_id,
      pool: target.pool,
    });
    return c.json(requested, 202);
  },
);

modelDownloadRoutes.openapi(
  createRoute({
    method: "post",
    path: "/models/disk-cleanup",
    tags,
    security,
    middleware: [requireUser],
    summary: "Delete least recently used model files until each machine's models folder fits a budget",
    request: {
      query: z.object({
        budget_gb: z.coerce
          .number()
          .min(0)
          .max(1_000_000)
          .openapi({ description: "GiB each models folder may keep" }),
        ...TargetQuery,
      }),
    },
    responses: {
      202: jsonContent(RemovalSchema.extend({ budget_bytes: z.number().int() }), "Sent to the machines"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { budget_gb, machine_id, pool } = c.req.valid("query");
    const ctx = { env: c.env, db: c.var.db, userId: c.var.principal.userId };
    const budget = Math.floor(budget_gb * 2 ** 30);
    return c.json(await cleanupModelDisk(ctx, budget, { machineId: machine_id, pool }), 202);
  },
);
