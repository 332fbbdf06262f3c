import type { Db } from "../db/client";
import { sha256Hex } from "../lib/crypto";
import { AppError, notFound } from "../lib/errors";
import { graphFormat, normaliseGraph } from "../lib/graph";
import { type NodeDefinitions, uiToApi } from "../lib/graph/ui";
import { newId, nowIso } from "../lib/ids";
import type { ApiGraph } from "../protocol/graph";
import { countLiveDeployments } from "../stores/deployments";
import {
  appendVersion,
  findVersionById,
  findVersionByNumber,
  findWorkflow,
  getWorkflowDocument,
  insertWorkflow,
  listVersions,
  listWorkflows as listWorkflowRows,
  putWorkflowDocument,
  softDeleteWorkflow,
  updateWorkflow as updateWorkflowRow,
  type WorkflowRow,
  type WorkflowVersionRow,
  workflowDocumentKey,
} from "../stores/workflows";

/**
 * Size limits. Real ComfyUI workflows run from a few KB to a few hundred KB, the UI format (positions,
 * groups, notes) being several times the API format. A request may carry 5 MiB, room for the largest
 * UI documents many times over; that document goes to R2. The API graph lives in a D1 row, and D1 rows
 * stop at 1,000,000 bytes, so the normalised graph is capped at 900 KB (thousands of nodes).
 */
export const WORKFLOW_BODY_LIMIT = 5 * 1024 * 1024;
export const MAX_GRAPH_BYTES = 900_000;

export type GraphInput = { workflow?: unknown; workflow_api?: unknown };
export type Page = { limit: number; offset: number };

const utf8Length = (text: string) => new TextEncoder().encode(text).byteLength;

export function publicWorkflow(row: WorkflowRow) {
  return {
    id: row.id,
    user_id: row.userId,
    org_id: null,
    name: row.name,
    description: row.description,
    version: row.currentVersion,
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

type VersionSummaryRow = Pick<
  WorkflowVersionRow,
  "id" | "workflowId" | "userId" | "version" | "comment" | "createdAt"
>;

export function publicVersionSummary(row: VersionSummaryRow) {
  return {
    id: row.id,
    workflow_id: row.workflowId,
    user_id: row.userId,
    version: row.version,
    comment: row.comment,
    created_at: row.createdAt,
    updated_at: row.createdAt,
  };
}

async function publicVersion(bucket: R2Bucket, row: WorkflowVersionRow) {
  const workflow = row.workflowKey ? await getWorkflowDocument(bucket, row.workflowKey) : null;
  return { ...publicVersionSummary(row), workflow, workflow_api: row.workflowApi };
}

/** Loads the node definitions a UI document converts with; undefined while no machine reported any. */
export type DefinitionsLoader = () => Promise<NodeDefinitions | undefined>;

/**
 * The graph that runs comes from `workflow_api`, or from `workflow`: as is when that is already in the
 * API or typed-list form (seed 001), converted when it is ComfyUI's UI format. Conversion uses the node
 * definitions the user's machines report; with none reported yet it is refused rather than guessed.
 */
async function resolveGraph(
  input: GraphInput,
  definitions: DefinitionsLoader,
): Promise<ApiGraph | undefined> {
  if (input.workflow_api !== undefined) return normaliseGraph(input.workflow_api, "workflow_api");
  if (input.workflow === undefined || input.workflow === null) return undefined;
  return graphFromDocument(input.workflow, definitions, "workflow");
}

/** A raw graph in any of the three forms, as the API format; UI documents are converted. */
export async function graphFromDocument(document: unknown, definitions: DefinitionsLoader, field: string) {
  if (graphFormat(document) !== "ui") return normaliseGraph(document, field);
  const known = await definitions();
  if (!known) {
    const message =
      "workflow is ComfyUI's UI format, and none of your machines has reported its node definitions yet, so it cannot be converted; connect a machine (its agent reports them) or send the API export (Workflow → Export (API)) as workflow_api";
    throw new AppError("validation_error", "Invalid workflow graph", [
      { code: "NO_NODE_DEFINITIONS", message, field },
    ]);
  }
  return normaliseGraph(uiToApi(document as Record<string, unknown>, known, field), field);
}

function checkGraphSize(graph: ApiGraph) {
  const bytes = utf8Length(JSON.stringify(graph));
  if (bytes <= MAX_GRAPH_BYTES) return;
  const message = `workflow_api is ${bytes} bytes once normalised; the limit is ${MAX_GRAPH_BYTES}`;
  throw new AppError("payload_too_large", message, [{ code: "TOO_LARGE", message, field: "workflow_api" }]);
}

/** Stores the UI document (if any) and returns its key. */
async function storeDocument(bucket: R2Bucket, userId: string, document: unknown) {
  if (document === undefined || document === null) return null;
  const json = JSON.stringify(document);
  const key = workflowDocumentKey(userId, await sha256Hex(json));
  await putWorkflowDocument(bucket, key, json);
  return key;
}

async function requireWorkflow(db: Db, userId: string, id: string) {
  const row = await findWorkflow(db, userId, id);
  if (!row) throw notFound("Workflow");
  return row;
}

async function currentVersion(db: Db, userId: string, workflow: WorkflowRow) {
  const row = await findVersionByNumber(db, userId, workflow.id, workflow.currentVersion);
  if (!row) throw notFound("Workflow version");
  return row;
}

export async function createWorkflow(
  db: Db,
  bucket: R2Bucket,
  userId: string,
  input: GraphInput & { name: string; description?: string; comment?: string },
  definitions: DefinitionsLoader,
) {
  const graph = await resolveGraph(input, definitions);
  if (!graph) {
    throw new AppError("validation_error", "Invalid request data", [
      { code: "REQUIRED_FIELD", message: "Field 'workflow_api' is required", field: "workflow_api" },
    ]);
  }
  checkGraphSize(graph);
  const workflowKey = await storeDocument(bucket, userId, input.workflow);
  const now = nowIso();
  const created = await insertWorkflow(
    db,
    {
      id: newId(),
      userId,
      name: input.name,
      description: input.description ?? null,
      createdAt: now,
      updatedAt: now,
    },
    { id: newId(), workflowApi: graph, workflowKey, comment: input.comment ?? null, createdAt: now },
  );
  return { ...publicWorkflow(created.workflow), workflow_version_id: created.version.id };
}

export async function listWorkflows(db: Db, userId: string, query: Page & { search?: string }) {
  return (await listWorkflowRows(db, userId, query)).map(publicWorkflow);
}

export async function getWorkflow(db: Db, bucket: R2Bucket, userId: string, id: string) {
  const workflow = await requireWorkflow(db, userId, id);
  const version = await currentVersion(db, userId, workflow);
  return {
    ...publicWorkflow(workflow),
    workflow_version_id: version.id,
    latest_version: await publicVersion(bucket, version),
  };
}

/**
 * Renaming changes the workflow only; a new graph (API or UI document) appends version N+1, the part
 * not sent being carried over from the current version. Sending the current graph again changes nothing.
 */
export async function updateWorkflow(
  db: Db,
  bucket: R2Bucket,
  userId: string,
  id: string,
  input: GraphInput & { name?: string; description?: string | null; comment?: string },
  definitions: DefinitionsLoader,
) {
  const workflow = await requireWorkflow(db, userId, id);
  const latest = await currentVersion(db, userId, workflow);
  const changes = {
    ...(input.name !== undefined && { name: input.name }),
    ...(input.description !== undefined && { description: input.description }),
  };
  const graph = (await resolveGraph(input, definitions)) ?? latest.workflowApi;
  checkGraphSize(graph);
  const documentKey = (await storeDocument(bucket, userId, input.workflow)) ?? latest.workflowKey;
  const graphChanged = JSON.stringify(graph) !== JSON.stringify(latest.workflowApi);
  if (graphChanged || documentKey !== latest.workflowKey) {
    const appended = await appendVersion(
      db,
      userId,
      id,
      {
        id: newId(),
        workflowApi: graph,
        workflowKey: documentKey,
        comment: input.comment ?? null,
        createdAt: nowIso(),
      },
      changes,
    );
    if (!appended.workflow) throw notFound("Workflow");
    return { ...publicWorkflow(appended.workflow), workflow_version_id: appended.version.id };
  }
  const updated =
    Object.keys(changes).length > 0 ? await updateWorkflowRow(db, userId, id, changes) : workflow;
  if (!updated) throw notFound("Workflow");
  return { ...publicWorkflow(updated), workflow_version_id: latest.id };
}

/** Soft delete; refused while deployments still pin one of its versions. */
export async function deleteWorkflow(db: Db, userId: string, id: string) {
  await requireWorkflow(db, userId, id);
  const deployments = await countLiveDeployments(db, userId, id);
  if (deployments > 0) {
    throw new AppError(
      "conflict",
      `This workflow has ${deployments} deployment(s); delete them before deleting the workflow`,
    );
  }
  if (!(await softDeleteWorkflow(db, userId, id))) throw notFound("Workflow");
}

/** A new workflow whose version 1 is a copy of the source's current (or given) version. */
export async function cloneWorkflow(
  db: Db,
  userId: string,
  id: string,
  input: { name?: string; version?: number },
) {
  const source = await requireWorkflow(db, userId, id);
  const from =
    input.version === undefined
      ? await currentVersion(db, userId, source)
      : await findVersionByNumber(db, userId, id, input.version);
  if (!from) throw notFound("Workflow version");
  const now = nowIso();
  const created = await insertWorkflow(
    db,
    {
      id: newId(),
      userId,
      name: input.name ?? `${source.name} (copy)`,
      description: source.description,
      createdAt: now,
      updatedAt: now,
    },
    {
      id: newId(),
      workflowApi: from.workflowApi,
      workflowKey: from.workflowKey,
      comment: `Cloned from ${source.name} v${from.version}`,
      createdAt: now,
    },
  );
  return { ...publicWorkflow(created.workflow), workflow_version_id: created.version.id };
}

export async function listWorkflowVersions(db: Db, userId: string, id: string, page: Page) {
  await requireWorkflow(db, userId, id);
  return (await listVersions(db, userId, id, page)).map(publicVersionSummary);
}

export async function getWorkflowVersion(
  db: Db,
  bucket: R2Bucket,
  userId: string,
  id: string,
  version: number,
) {
  await requireWorkflow(db, userId, id);
  const row = await findVersionByNumber(db, userId, id, version);
  if (!row) throw notFound("Workflow version");
  return publicVersion(bucket, row);
}

export async function getWorkflowVersionById(db: Db, bucket: R2Bucket, userId: string, versionId: string) {
  const row = await findVersionById(db, userId, versionId);
  if (!row) throw notFound("Workflow version");
  return publicVersion(bucket, row);
}

/** The version a deployment pins: by id, by number, or the workflow's current one. */
export async function findVersionToPin(
  db: Db,
  userId: string,
  workflowId: string,
  pick: { versionId?: string; version?: number },
) {
  const workflow = await requireWorkflow(db, userId, workflowId);
  let row: WorkflowVersionRow | undefined;
  if (pick.versionId !== undefined) {
    row = await findVersionById(db, userId, pick.versionId);
    if (row?.workflowId !== workflowId) row = undefined;
  } else {
    row = await findVersionByNumber(db, userId, workflowId, pick.version ?? workflow.currentVersion);
  }
  if (!row) throw notFound("Workflow version");
  return { workflow, version: row };
}
