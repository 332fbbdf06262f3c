import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonContent } from "../../lib/openapi";
import { requireUser, userContext } from "../../middleware/auth";
import { loadModel } from "../../services/model-load";
import { cleanupModels, getModel, listModels, unloadModel } from "../../services/models";

export const ModelType = z
  .string()
  .regex(/^[a-z0-9_]{1,64}$/)
  .openapi({
    description:
      "Seed 004's type (`checkpoint`, `lora`, `embedding`, `vae`, `controlnet`, `upscaler`) or a ComfyUI model folder (`text_encoders`, …)",
    example: "checkpoint",
  });

const ModelOnMachineSchema = z
  .object({
    machine_id: z.string(),
    machine_name: z.string(),
    pool: z.string(),
    status: z.enum(["offline", "online", "draining"]),
    instance_id: z.string().openapi({ example: "comfy-0" }),
    file_size_mb: z.number().nullable(),
    modified_at: z.string().nullable(),
    hash: z.string().nullable().openapi({ description: "SHA-256, once the agent has hashed the file" }),
  })
  .openapi("ModelOnMachine");

const ModelSchema = z
  .object({
    name: z.string().openapi({ example: "v1-5-pruned-emaonly.safetensors" }),
    type: z.string().openapi({ example: "checkpoint" }),
    is_loaded: z.null().openapi({ description: "ComfyUI does not say which models it holds in memory" }),
    is_downloading: z.boolean(),
    download_progress: z.number().nullable(),
    last_used: z.string().nullable(),
    memory_usage_mb: z.number().nullable(),
    file_size_mb: z.number().nullable(),
    file_path: z.string().openapi({ example: "models/checkpoints/v1-5-pruned-emaonly.safetensors" }),
    hash: z.string().nullable().openapi({ description: "SHA-256 when every machine's copy has this one" }),
    metadata: z.object({ folder: z.string() }),
    machines: z.array(ModelOnMachineSchema),
  })
  .openapi("Model");

const ModelListSchema = z
  .object({
    models: z.array(ModelSchema),
    total_memory_usage_mb: z.null(),
    available_memory_mb: z.null(),
  })
  .openapi("ModelList");

const NameParam = z.object({
  model_name: z
    .string()
    .min(1)
    .max(1024)
    .openapi({ param: { name: "model_name", in: "path" } }),
});

const FreeRequestedSchema = z.object({
  message: z.string(),
  machines: z.array(z.string()).openapi({ description: "The machines whose agents were asked" }),
});

const tags = ["Models"];
const security = [{ bearerAuth: [] }];

export const modelRoutes = createRouter();
modelRoutes.use("/models", requireUser);
modelRoutes.use("/models/*", requireUser);

modelRoutes.openapi(
  createRoute({
    method: "get",
    path: "/models",
    tags,
    security,
    summary: "The model files on your machines, each with the machines that have it",
    request: {
      query: z.object({
        type: ModelType.optional(),
        model_type: ModelType.optional().openapi({ description: "Seed 004's name for `type`" }),
        machine_id: z.string().min(1).max(64).optional(),
        available_only: z.enum(["true", "false"]).optional().openapi({
          description: "Accepted for seed 004; every model listed is on a machine's disk",
        }),
      }),
    },
    responses: { 200: jsonContent(ModelListSchema, "Your models"), ...errorResponses(400, 401, 403) },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const filter = { type: query.type ?? query.model_type, machineId: query.machine_id };
    return c.json(await listModels(c.var.db, c.var.principal.userId, filter), 200);
  },
);

modelRoutes.openapi(
  createRoute({
    method: "get",
    path: "/models/{model_name}",
    tags,
    security,
    summary: "One model file, with each machine that has it",
    request: {
      params: NameParam,
      query: z.object({ model_type: ModelType.optional(), type: ModelType.optional() }),
    },
    responses: { 200: jsonContent(ModelSchema, "The model"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { model_type, type } = c.req.valid("query");
    const name = c.req.valid("param").model_name;
    return c.json(await getModel(c.var.db, c.var.principal.userId, name, type ?? model_type), 200);
  },
);

modelRoutes.openapi(
  createRoute({
    method: "post",
    path: "/models/cleanup",
    tags,
    security,
    summary: "Ask every connected machine's ComfyUI to unload all models and free memory (POST /free)",
    request: {
      query: z.object({
        max_age_hours: z.coerce.number().int().min(1).max(24).optional().openapi({
          description: "Accepted for seed 004; ComfyUI does not say when a model was last used",
        }),
      }),
    },
    responses: {
      202: jsonContent(
        FreeRequestedSchema.extend({ models_unloaded: z.array(z.string()) }),
        "Sent to the connected machines",
      ),
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => c.json(await cleanupModels(c.env, c.var.db, c.var.principal.userId), 202),
);

modelRoutes.openapi(
  createRoute({
    method: "post",
    path: "/models/{model_name}/unload",
    tags,
    security,
    summary: "Ask each ComfyUI that has this model to unload its models (ComfyUI unloads all of them)",
    request: { params: NameParam, query: z.object({ model_type: ModelType.optional() }) },
    responses: {
      202: jsonContent(FreeRequestedSchema.extend({ model_name: z.string() }), "Sent to the machines"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { model_name } = c.req.valid("param");
    const { model_type } = c.req.valid("query");
    return c.json(await unloadModel(c.env, c.var.db, c.var.principal.userId, model_name, model_type), 202);
  },
);

const LoadRequestedSchema = z
  .object({
    message: z.string(),
    model_name: z.string(),
    model_type: z.string(),
    runs: z
      .array(z.object({ machine_id: z.string(), run_id: z.string() }))
      .openapi({ description: "One warm-up run per machine; follow each with GET /api/run/{run_id}" }),
    skipped: z
      .array(z.object({ machine_id: z.string(), reason: z.string() }))
      .openapi({ description: "Machines that have the file but got no warm-up run, and why" }),
  })
  .openapi("ModelLoadRequested");

modelRoutes.openapi(
  createRoute({
    method: "post",
    path: "/models/{model_name}/load",
    tags,
    security,
    summary: "Warm a checkpoint or VAE up: run its loader on each online machine that has the file",
    description: [
      "ComfyUI has no endpoint that loads one model. This queues, on each online machine that has the file,",
      "a warm-up run: a two-node graph (the folder's loader, `CheckpointLoaderSimple` or `VAELoader`, then",
      "`PreviewAny`) pinned to that machine and routed to a ComfyUI instance that holds the file. ComfyUI",
      "reads the file and keeps the loaded model in its node cache, so the next run loading the same file",
      "does not read it again. Nothing pins it: a prompt that does not use that loader lets it go, and",
      "`POST /models/{model_name}/unload` frees it. The weights move to the GPU at the first sampling step.",
      "The runs are ordinary runs (metadata `model_load`), queued behind earlier ones. Other model types",
      "are refused with 400 `LOAD_NOT_SUPPORTED`: a LoRA loads only into a model, and the other loaders",
      "need settings a file name does not give. 409 when no online machine could take a warm-up run.",
    ].join(" "),
    request: { params: NameParam, query: z.object({ model_type: ModelType.optional() }) },
    responses: {
      202: jsonContent(LoadRequestedSchema, "Warm-up runs queued"),
      ...errorResponses(400, 401, 403, 404, 409),
    },
  }),
  async (c) => {
    const { model_name } = c.req.valid("param");
    const { model_type } = c.req.valid("query");
    return c.json(await loadModel(userContext(c), model_name, model_type), 202);
  },
);
