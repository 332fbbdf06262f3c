import { createRoute, z } from "@hono/zod-openapi";
import { deploymentEnvironments } from "../db/schema";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { requireUser } from "../middleware/auth";
import { KiB, limitBody } from "../middleware/body-limit";
import { INPUT_TYPES, InputBinding } from "../protocol/graph";
import {
  createDeployment,
  deactivateDeployment,
  deleteDeployment,
  getDeployment,
  getDeploymentHistory,
  getDeploymentInputs,
  listDeployments,
  updateDeployment,
} from "../services/deployments";

const uuid = (example: string) => z.string().openapi({ example });
const timestamp = z.string().openapi({ example: "2026-01-01T00:00:00.000Z" });
const workflowId = "0b3c8a52-9d1e-4f7a-a0c4-5e2f6b7d8c91";
const versionId = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

const Environment = z.enum(deploymentEnvironments).openapi({ example: "production" });

const InputTypeSchema = z
  .object({
    input_id: z.string().openapi({ example: "prompt" }),
    type: z.string().openapi({ example: "string" }),
    class_type: z.string().openapi({ example: "ComfyUIDeployExternalText" }),
    default_value: z
      .union([z.string(), z.number(), z.boolean(), z.array(z.unknown())])
      .nullable()
      .openapi({ example: "a photo of a cat" }),
    min_value: z.number().nullable().openapi({ example: null }),
    max_value: z.number().nullable().openapi({ example: null }),
    display_name: z.string().openapi({ example: "prompt" }),
    description: z.string().openapi({ example: "What to draw" }),
    enum_options: z.array(z.string()).nullable().openapi({ example: null }),
    required: z.boolean().openapi({ example: false }),
    binding: z.enum(["node_input", "external_node"]).openapi({ example: "external_node" }),
    node_id: z.string().openapi({ example: "6" }),
    input_name: z.string().openapi({ example: "default_value" }),
  })
  .openapi("DeploymentInputType", { description: "ComfyDeploy's InputModel, plus where the input lands" });

export const DeploymentSchema = z
  .object({
    id: uuid("3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b"),
    user_id: uuid("6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"),
    org_id: z.string().nullable().openapi({ example: null }),
    name: z.string().openapi({ example: "Invert (production)" }),
    description: z.string().nullable().openapi({ example: null }),
    workflow_id: uuid(workflowId),
    workflow_version_id: uuid(versionId),
    version: z.number().int().openapi({ example: 2, description: "Number of the pinned workflow version" }),
    workflow: z
      .object({ id: z.string(), name: z.string() })
      .openapi({ example: { id: workflowId, name: "Invert an image" } }),
    environment: Environment,
    pool: z.string().openapi({ example: "default", description: "The machine pool that runs it" }),
    machine_id: z
      .string()
      .openapi({ example: "", description: "A pinned machine, or '' for any in the pool" }),
    machine: z.null().openapi({ example: null }),
    is_fluid: z.boolean().openapi({ example: true, description: "True when not pinned to one machine" }),
    is_active: z.boolean().openapi({ example: true }),
    status: z.enum(["active", "archived"]).openapi({ example: "active" }),
    share_slug: z.string().nullable().openapi({ example: null }),
    share_options: z.record(z.string(), z.unknown()).nullable().openapi({ example: null }),
    showcase_media: z.record(z.string(), z.unknown()).nullable().openapi({ example: null }),
    dub_link: z.string().nullable().openapi({ example: null }),
    input_types: z.array(InputTypeSchema),
    output_types: z
      .array(z.object({ class_type: z.string(), output_id: z.string() }))
      .openapi({ example: [{ class_type: "ComfyDeployStdOutputImage", output_id: "result" }] }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi("Deployment");

const BindingSchema = z
  .object({
    input_id: z.string().trim().min(1).max(128).openapi({ example: "steps" }),
    node_id: z.string().min(1).max(128).openapi({ example: "3" }),
    input_name: z.string().min(1).max(256).openapi({ example: "steps" }),
    type: z.enum(INPUT_TYPES).optional().openapi({
      example: "integer",
      description: "Default: inferred from the graph",
    }),
    default: z
      .unknown()
      .optional()
      .openapi({ example: 20, description: "Default: the graph's current value" }),
    required: z.boolean().optional().openapi({ example: false }),
    description: z.string().max(1000).optional().openapi({ example: "Sampling steps" }),
    enum_values: z.array(z.string().max(256)).max(1000).optional().openapi({ example: undefined }),
    min: z.number().optional().openapi({ example: 1 }),
    max: z.number().optional().openapi({ example: 150 }),
  })
  .openapi("InputBindingRequest", {
    description: "Binds a run input to `graph[node_id].inputs[input_name]`",
  });

const versionFields = {
  workflow_version_id: uuid(versionId).optional(),
  version_id: uuid(versionId).optional().openapi({ description: "Seed 002's name for workflow_version_id" }),
  version: z.number().int().positive().optional().openapi({ example: 2, description: "Version number" }),
};

const CreateDeploymentSchema = z
  .object({
    workflow_id: z.string().min(1).max(64).openapi({ example: workflowId }),
    ...versionFields,
    name: z.string().trim().min(1).max(200).optional().openapi({ example: "Invert (production)" }),
    description: z.string().max(2000).optional().openapi({ example: "Public endpoint" }),
    environment: Environment.optional().openapi({ description: "Default: production" }),
    machine_id: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .openapi({ example: "5c4b3a29-1807-4f6e-9d5c-4b3a29180f6e" }),
    pool: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional()
      .openapi({ example: "default" }),
    inputs: z.array(BindingSchema).max(200).optional(),
  })
  .openapi("CreateDeploymentRequest", {
    description: "Pins a version (by id, by number, or the current one when neither is given)",
  });

const UpdateDeploymentSchema = z
  .object({
    ...versionFields,
    name: z.string().trim().min(1).max(200).optional().openapi({ example: "Invert (production)" }),
    description: z.string().max(2000).nullable().optional().openapi({ example: null }),
    environment: Environment.optional(),
    machine_id: z.string().min(1).max(64).nullable().optional().openapi({ example: null }),
    pool: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional()
      .openapi({ example: "gpu-a100" }),
    inputs: z.array(BindingSchema).max(200).optional(),
    is_active: z.boolean().optional().openapi({ example: true }),
  })
  .openapi("UpdateDeploymentRequest");

/**
 * The protocol's binding schema is written with zod/mini (shared with the agent), which the OpenAPI
 * generator cannot read; the document shows zod's own JSON Schema of it.
 */
const inputBindingJsonSchema: object = z.toJSONSchema(InputBinding, { target: "openapi-3.0", io: "input" });

const InputsSchema = z
  .object({
    deployment_id: uuid("3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b"),
    workflow_id: uuid(workflowId),
    workflow_version_id: uuid(versionId),
    version: z.number().int().openapi({ example: 2 }),
    inputs: z.array(
      z.custom<InputBinding>().openapi("InputBinding", {
        ...inputBindingJsonSchema,
        example: {
          input_id: "prompt",
          type: "string",
          binding: "external_node",
          node_id: "6",
          input_name: "default_value",
          class_type: "ComfyUIDeployExternalText",
          required: false,
          default: "a photo of a cat",
        },
      }),
    ),
    bindings: z.array(BindingSchema).openapi({ description: "The deployment's explicit bindings, as given" }),
  })
  .openapi("DeploymentInputs");

const EventSchema = z
  .object({
    id: uuid("7d6c5b4a-3928-4f17-a6e5-d4c3b2a19087"),
    kind: z
      .enum(["created", "promoted", "updated", "deactivated", "activated", "deleted"])
      .openapi({ example: "promoted" }),
    from_version_id: z.string().nullable().openapi({ example: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" }),
    to_version_id: z.string().nullable().openapi({ example: versionId }),
    changes: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ example: { name: "Invert v2" } }),
    created_at: timestamp,
  })
  .openapi("DeploymentEvent");

const DeploymentParam = z.object({
  deployment_id: z
    .string()
    .min(1)
    .max(64)
    .openapi({
      param: { name: "deployment_id", in: "path" },
      example: "3e2d1c0b-9a8f-4e7d-8c6b-5a4f3e2d1c0b",
    }),
});

const tags = ["Deployments"];
const security = [{ bearerAuth: [] }];
const authed = [requireUser];
/** Bindings are small: 200 of them fit in well under 64 KiB. */
const withBody = [requireUser, limitBody(64 * KiB)];

export const deploymentRoutes = createRouter();

deploymentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/deployment",
    tags,
    security,
    middleware: withBody,
    summary: "Deploy a workflow version",
    description:
      "The input spec is derived from the pinned graph's ComfyDeploy external-input nodes (`ComfyUIDeployExternal…`, named by `input_id`) plus the explicit `inputs` bindings.",
    request: { body: jsonBody(CreateDeploymentSchema) },
    responses: {
      201: jsonContent(DeploymentSchema, "The new deployment"),
      ...errorResponses(400, 401, 403, 404, 413),
    },
  }),
  async (c) => c.json(await createDeployment(c.var.db, c.var.principal.userId, c.req.valid("json")), 201),
);

deploymentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/deployments",
    tags,
    security,
    middleware: authed,
    summary: "List your deployments, newest first",
    description: "A bare array, as ComfyDeploy's SDK expects (`deployments.list`).",
    request: {
      query: z.object({
        environment: Environment.optional(),
        is_fluid: z
          .enum(["true", "false"])
          .optional()
          .openapi({ example: "true", description: "true: not pinned to a machine" }),
        workflow_id: z.string().max(64).optional().openapi({ example: workflowId }),
      }),
    },
    responses: {
      200: jsonContent(z.array(DeploymentSchema), "Your deployments"),
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => {
    const { is_fluid, ...filters } = c.req.valid("query");
    const isFluid = is_fluid === undefined ? undefined : is_fluid === "true";
    return c.json(
      await listDeployments(c.var.db, c.var.principal.userId, { ...filters, is_fluid: isFluid }),
      200,
    );
  },
);

deploymentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/deployment/{deployment_id}",
    tags,
    security,
    middleware: authed,
    summary: "A deployment",
    request: { params: DeploymentParam },
    responses: { 200: jsonContent(DeploymentSchema, "The deployment"), ...errorResponses(401, 403, 404) },
  }),
  async (c) =>
    c.json(await getDeployment(c.var.db, c.var.principal.userId, c.req.valid("param").deployment_id), 200),
);

deploymentRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/deployment/{deployment_id}",
    tags,
    security,
    middleware: withBody,
    summary: "Update a deployment or promote another version",
    description:
      "Pinning another version of the same workflow is a promotion; the input spec is derived again and the change is recorded (see `/history`).",
    request: { params: DeploymentParam, body: jsonBody(UpdateDeploymentSchema) },
    responses: {
      200: jsonContent(DeploymentSchema, "The deployment as it now is"),
      ...errorResponses(400, 401, 403, 404, 413),
    },
  }),
  async (c) => {
    const { deployment_id } = c.req.valid("param");
    return c.json(
      await updateDeployment(c.var.db, c.var.principal.userId, deployment_id, c.req.valid("json")),
      200,
    );
  },
);

deploymentRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/deployment/{deployment_id}",
    tags,
    security,
    middleware: authed,
    summary: "Delete a deployment",
    description: "New runs are refused at once; runs already made keep their history.",
    request: { params: DeploymentParam },
    responses: {
      200: jsonContent(z.object({ id: z.string(), deleted: z.literal(true) }), "Deleted"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const { deployment_id } = c.req.valid("param");
    await deleteDeployment(c.var.db, c.var.principal.userId, deployment_id);
    return c.json({ id: deployment_id, deleted: true as const }, 200);
  },
);

deploymentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/deployment/{deployment_id}/deactivate",
    tags,
    security,
    middleware: authed,
    summary: "Deactivate a deployment",
    description: "New runs get a 409 until it is activated again (`PATCH {is_active: true}`). Idempotent.",
    request: { params: DeploymentParam },
    responses: {
      200: jsonContent(DeploymentSchema, "The deactivated deployment"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const { deployment_id } = c.req.valid("param");
    return c.json(await deactivateDeployment(c.var.db, c.var.principal.userId, deployment_id), 200);
  },
);

deploymentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/deployment/{deployment_id}/inputs",
    tags,
    security,
    middleware: authed,
    summary: "The inputs a run of this deployment may pass",
    description:
      "Each input's type, default and where it lands in the graph (node id + input name). A run with an unknown input, a value of the wrong type or a missing required input is a 400 naming it.",
    request: { params: DeploymentParam },
    responses: { 200: jsonContent(InputsSchema, "The input spec"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const { deployment_id } = c.req.valid("param");
    return c.json(await getDeploymentInputs(c.var.db, c.var.principal.userId, deployment_id), 200);
  },
);

deploymentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/deployment/{deployment_id}/history",
    tags,
    security,
    middleware: authed,
    summary: "What happened to a deployment, oldest first",
    request: { params: DeploymentParam },
    responses: {
      200: jsonContent(z.array(EventSchema), "Recorded changes"),
      ...errorResponses(401, 403, 404),
    },
  }),
  async (c) => {
    const { deployment_id } = c.req.valid("param");
    return c.json(await getDeploymentHistory(c.var.db, c.var.principal.userId, deployment_id), 200);
  },
);
