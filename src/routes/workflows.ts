import { createRoute, z } from "@hono/zod-openapi";
import { createRouter, errorResponses, jsonBody, jsonContent } from "../lib/openapi";
import { requireUser } from "../middleware/auth";
import { limitBody } from "../middleware/body-limit";
import { reportedDefinitions } from "../services/node-definitions";
import {
  cloneWorkflow,
  createWorkflow,
  deleteWorkflow,
  getWorkflow,
  getWorkflowVersion,
  getWorkflowVersionById,
  listWorkflows,
  listWorkflowVersions,
  updateWorkflow,
  WORKFLOW_BODY_LIMIT,
} from "../services/workflows";

export const exampleGraph = {
  "1": { class_type: "LoadImage", inputs: { image: "example.png" } },
  "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
  "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "invert" } },
};

const uiExample = { nodes: [{ id: 1, type: "LoadImage", pos: [0, 0] }], links: [], version: 0.4 };
const uuid = (example: string) => z.string().openapi({ example });
const timestamp = z.string().openapi({ example: "2026-01-01T00:00:00.000Z" });

const GraphSchema = z.record(z.string(), z.unknown()).openapi("WorkflowApiGraph", {
  description:
    "ComfyUI's API format (`{node id: {class_type, inputs, _meta?}}`, links as `[node_id, output_index]`) or seed 004's typed list (`{nodes: {id: {class_type, inputs: [{name, type, value, required}]}}}`); stored in the API format",
  example: exampleGraph,
});

const UiDocumentSchema = z.record(z.string(), z.unknown()).openapi({
  description:
    "ComfyUI's UI-format workflow, kept as sent for the editor. Sent without `workflow_api`, it is converted to the API format with the node definitions your machines report (see README: UI-format workflows)",
  example: uiExample,
});

export const WorkflowSchema = z
  .object({
    id: uuid("0b3c8a52-9d1e-4f7a-a0c4-5e2f6b7d8c91"),
    user_id: uuid("6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"),
    org_id: z.string().nullable().openapi({ example: null }),
    name: z.string().openapi({ example: "Invert an image" }),
    description: z.string().nullable().openapi({ example: "LoadImage → ImageInvert → SaveImage" }),
    version: z.number().int().openapi({ example: 1, description: "The current (newest) version number" }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi("Workflow");

const WorkflowWithVersionSchema = WorkflowSchema.extend({
  workflow_version_id: uuid("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
}).openapi("WorkflowWithVersion");

const VersionSummarySchema = z
  .object({
    id: uuid("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"),
    workflow_id: uuid("0b3c8a52-9d1e-4f7a-a0c4-5e2f6b7d8c91"),
    user_id: uuid("6f1d2c3b-4a5e-4f60-8b7c-9d0e1f2a3b4c"),
    version: z.number().int().openapi({ example: 2 }),
    comment: z.string().nullable().openapi({ example: "Sharper output" }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .openapi("WorkflowVersionSummary");

const VersionSchema = VersionSummarySchema.extend({
  workflow: UiDocumentSchema.nullable(),
  workflow_api: z
    .record(
      z.string(),
      z.object({
        class_type: z.string(),
        inputs: z.record(z.string(), z.unknown()),
        _meta: z.object({ title: z.string().optional() }).loose().optional(),
      }),
    )
    .openapi({ example: exampleGraph }),
}).openapi("WorkflowVersion");

const WorkflowDetailSchema = WorkflowWithVersionSchema.extend({ latest_version: VersionSchema }).openapi(
  "WorkflowDetail",
);

const name = z.string().trim().min(1).max(200).openapi({ example: "Invert an image" });
const description = z.string().max(2000).openapi({ example: "LoadImage → ImageInvert → SaveImage" });
const comment = z.string().max(500).openapi({ example: "Sharper output" });

const CreateWorkflowSchema = z
  .object({
    name,
    description: description.optional(),
    workflow: UiDocumentSchema.optional(),
    workflow_api: GraphSchema.optional(),
    comment: comment.optional(),
  })
  .openapi("CreateWorkflowRequest");

const UpdateWorkflowSchema = z
  .object({
    name: name.optional(),
    description: description.nullable().optional(),
    workflow: UiDocumentSchema.optional(),
    workflow_api: GraphSchema.optional(),
    comment: comment.optional(),
  })
  .openapi("UpdateWorkflowRequest");

const CloneSchema = z
  .object({
    name: name.optional().openapi({ example: "Invert an image (copy)" }),
    version: z.number().int().positive().optional().openapi({ example: 1, description: "Default: current" }),
  })
  .openapi("CloneWorkflowRequest");

const pathId = (param: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: param, in: "path" }, example: "0b3c8a52-9d1e-4f7a-a0c4-5e2f6b7d8c91" });

const WorkflowParam = z.object({ workflow_id: pathId("workflow_id") });
const Paging = {
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  offset: z.coerce.number().int().min(0).default(0).openapi({ example: 0 }),
};

const tags = ["Workflows"];
const security = [{ bearerAuth: [] }];
const authed = [requireUser];
const withBody = [requireUser, limitBody(WORKFLOW_BODY_LIMIT)];
const graphErrors = errorResponses(400, 401, 403, 404, 413);

export const workflowRoutes = createRouter();

workflowRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workflow",
    tags,
    security,
    middleware: withBody,
    summary: "Create a workflow (version 1)",
    description:
      "`workflow_api` is the graph that runs; `workflow` (ComfyUI's UI format) is kept for the editor and, sent alone, converted into `workflow_api` with the node definitions your machines report (a 400 names the node and reason when it cannot be, or says no machine has reported definitions yet). A body over 5 MiB, or an API graph over 900 KB, is a 413.",
    request: { body: jsonBody(CreateWorkflowSchema) },
    responses: { 201: jsonContent(WorkflowWithVersionSchema, "The new workflow"), ...graphErrors },
  }),
  async (c) => {
    const userId = c.var.principal.userId;
    const definitions = () => reportedDefinitions(c.var.db, c.env.BUCKET, userId);
    return c.json(
      await createWorkflow(c.var.db, c.env.BUCKET, userId, c.req.valid("json"), definitions),
      201,
    );
  },
);

workflowRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflows",
    tags,
    security,
    middleware: authed,
    summary: "List your workflows, newest first",
    request: {
      query: z
        .object({
          search: z
            .string()
            .max(200)
            .optional()
            .openapi({ example: "invert", description: "Part of the name" }),
          ...Paging,
        })
        .strict(),
    },
    responses: {
      200: jsonContent(z.array(WorkflowSchema), "A page of workflows"),
      ...errorResponses(400, 401, 403),
    },
  }),
  async (c) => c.json(await listWorkflows(c.var.db, c.var.principal.userId, c.req.valid("query")), 200),
);

workflowRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflow/{workflow_id}",
    tags,
    security,
    middleware: authed,
    summary: "A workflow with its current version",
    request: { params: WorkflowParam },
    responses: { 200: jsonContent(WorkflowDetailSchema, "The workflow"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const { workflow_id } = c.req.valid("param");
    return c.json(await getWorkflow(c.var.db, c.env.BUCKET, c.var.principal.userId, workflow_id), 200);
  },
);

workflowRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/workflow/{workflow_id}",
    tags,
    security,
    middleware: withBody,
    summary: "Rename a workflow or save a new version",
    description:
      "Versions are immutable: a changed `workflow_api` or `workflow` appends version N+1. A UI `workflow` sent alone is converted into the new `workflow_api`; a `workflow_api` sent alone keeps the current UI document. Renaming changes no version; sending the current graph again changes nothing.",
    request: { params: WorkflowParam, body: jsonBody(UpdateWorkflowSchema) },
    responses: { 200: jsonContent(WorkflowWithVersionSchema, "The workflow as it now is"), ...graphErrors },
  }),
  async (c) => {
    const { workflow_id } = c.req.valid("param");
    const body = c.req.valid("json");
    const userId = c.var.principal.userId;
    const definitions = () => reportedDefinitions(c.var.db, c.env.BUCKET, userId);
    return c.json(await updateWorkflow(c.var.db, c.env.BUCKET, userId, workflow_id, body, definitions), 200);
  },
);

workflowRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/workflow/{workflow_id}",
    tags,
    security,
    middleware: authed,
    summary: "Delete a workflow",
    description: "Refused (409) while deployments use it. Runs keep their history.",
    request: { params: WorkflowParam },
    responses: {
      200: jsonContent(z.object({ id: z.string(), deleted: z.literal(true) }).openapi("Deleted"), "Deleted"),
      ...errorResponses(401, 403, 404, 409),
    },
  }),
  async (c) => {
    const { workflow_id } = c.req.valid("param");
    await deleteWorkflow(c.var.db, c.var.principal.userId, workflow_id);
    return c.json({ id: workflow_id, deleted: true as const }, 200);
  },
);

workflowRoutes.openapi(
  createRoute({
    method: "post",
    path: "/workflow/{workflow_id}/clone",
    tags,
    security,
    middleware: withBody,
    summary: "Clone a workflow",
    description: "A new workflow whose version 1 copies the current version, or the one named in `version`.",
    request: {
      params: WorkflowParam,
      body: { required: false, content: { "application/json": { schema: CloneSchema } } },
    },
    responses: {
      201: jsonContent(WorkflowWithVersionSchema, "The clone"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { workflow_id } = c.req.valid("param");
    return c.json(
      await cloneWorkflow(c.var.db, c.var.principal.userId, workflow_id, c.req.valid("json")),
      201,
    );
  },
);

workflowRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflow/{workflow_id}/versions",
    tags,
    security,
    middleware: authed,
    summary: "A workflow's versions, newest first",
    description: "Summaries without the graphs; fetch one version for its graphs.",
    request: { params: WorkflowParam, query: z.object(Paging) },
    responses: {
      200: jsonContent(z.array(VersionSummarySchema), "A page of versions"),
      ...errorResponses(400, 401, 403, 404),
    },
  }),
  async (c) => {
    const { workflow_id } = c.req.valid("param");
    const page = c.req.valid("query");
    return c.json(await listWorkflowVersions(c.var.db, c.var.principal.userId, workflow_id, page), 200);
  },
);

workflowRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflow/{workflow_id}/version/{version}",
    tags,
    security,
    middleware: authed,
    summary: "One version of a workflow, by number",
    request: {
      params: WorkflowParam.extend({
        version: z.coerce
          .number()
          .int()
          .positive()
          .openapi({ param: { name: "version", in: "path" }, example: 1 }),
      }),
    },
    responses: { 200: jsonContent(VersionSchema, "The version"), ...errorResponses(400, 401, 403, 404) },
  }),
  async (c) => {
    const { workflow_id, version } = c.req.valid("param");
    const userId = c.var.principal.userId;
    return c.json(await getWorkflowVersion(c.var.db, c.env.BUCKET, userId, workflow_id, version), 200);
  },
);

workflowRoutes.openapi(
  createRoute({
    method: "get",
    path: "/workflow-version/{version_id}",
    tags,
    security,
    middleware: authed,
    summary: "One workflow version, by id",
    request: { params: z.object({ version_id: pathId("version_id") }) },
    responses: { 200: jsonContent(VersionSchema, "The version"), ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const { version_id } = c.req.valid("param");
    return c.json(
      await getWorkflowVersionById(c.var.db, c.env.BUCKET, c.var.principal.userId, version_id),
      200,
    );
  },
);
