import type { Db } from "../db/client";
import type { DeploymentEnvironment } from "../db/schema";
import { AppError, invalid, notFound } from "../lib/errors";
import { deriveInputSpec, type ExplicitBinding, outputSpec } from "../lib/graph";
import { newId, nowIso } from "../lib/ids";
import { TtlCache } from "../lib/ttl-cache";
import type { ApiGraph, InputBinding } from "../protocol/graph";
import {
  type DeploymentRow,
  type DeploymentView,
  findDeployment,
  findDeploymentForRun,
  findVersionGraph,
  insertDeployment,
  listDeploymentEvents,
  listDeployments as listDeploymentViews,
  type NewDeploymentEvent,
  updateDeployment as updateDeploymentRow,
} from "../stores/deployments";
import { findMachine } from "../stores/machines";
import type { PoolState } from "../stores/pool-state";
import { findVersionById } from "../stores/workflows";
import { findVersionToPin } from "./workflows";

export { validateRunInputs } from "../lib/graph";

export const DEFAULT_POOL = "default";

type VersionPick = { workflow_version_id?: string; version_id?: string; version?: number };

export type CreateDeploymentInput = VersionPick & {
  workflow_id: string;
  name?: string;
  description?: string;
  environment?: DeploymentEnvironment;
  machine_id?: string;
  pool?: string;
  inputs?: ExplicitBinding[];
};

export type UpdateDeploymentInput = VersionPick & {
  name?: string;
  description?: string | null;
  environment?: DeploymentEnvironment;
  machine_id?: string | null;
  pool?: string;
  inputs?: ExplicitBinding[];
  is_active?: boolean;
};

/** ComfyDeploy's `InputModel`: a default the SDK cannot parse (an object) travels as JSON text. */
function inputModel(binding: InputBinding) {
  const value = binding.default;
  const defaultValue =
    value === undefined || value === null
      ? null
      : typeof value === "object" && !Array.isArray(value)
        ? JSON.stringify(value)
        : value;
  return {
    input_id: binding.input_id,
    type: binding.type,
    class_type: binding.class_type,
    default_value: defaultValue as string | number | boolean | unknown[] | null,
    min_value: binding.min ?? null,
    max_value: binding.max ?? null,
    display_name: binding.input_id,
    description: binding.description ?? "",
    enum_options: binding.enum_values ?? null,
    required: binding.required,
    binding: binding.binding,
    node_id: binding.node_id,
    input_name: binding.input_name,
  };
}

/** The superset of seed 000's deployment and the SDK's `DeploymentModel` (`machine_id` is a string there). */
export function publicDeployment({ deployment: d, workflowName, version }: DeploymentView) {
  return {
    id: d.id,
    user_id: d.userId,
    org_id: null,
    name: d.name,
    description: d.description,
    workflow_id: d.workflowId,
    workflow_version_id: d.workflowVersionId,
    version,
    workflow: { id: d.workflowId, name: workflowName },
    environment: d.environment,
    pool: d.pool,
    machine_id: d.machineId ?? "",
    machine: null,
    is_fluid: d.machineId === null,
    is_active: d.isActive,
    status: d.isActive ? ("active" as const) : ("archived" as const),
    share_slug: null,
    share_options: null,
    showcase_media: null,
    dub_link: null,
    input_types: d.inputSpec.map(inputModel),
    output_types: d.outputSpec,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  };
}

async function requireDeployment(db: Db, userId: string, id: string) {
  const view = await findDeployment(db, userId, id);
  if (!view) throw notFound("Deployment");
  return view;
}

/** Request fields a PATCH may change, and their columns. */
const COLUMNS = {
  name: "name",
  description: "description",
  environment: "environment",
  pool: "pool",
  machine_id: "machineId",
  is_active: "isActive",
} as const;

const pickOf = (input: VersionPick) => ({
  versionId: input.workflow_version_id ?? input.version_id,
  version: input.version,
});

/**
 * A deployment pinned to a machine runs only there, so it lives in that machine's pool: the machine
 * must be the caller's (404 otherwise) and a pool given with it must be the machine's.
 */
async function poolOfPin(
  db: Db,
  userId: string,
  machineId: string | null | undefined,
  pool: string | undefined,
) {
  if (!machineId) return pool;
  const machine = await findMachine(db, userId, machineId);
  if (!machine) throw notFound("Machine");
  if (pool !== undefined && pool !== machine.pool) {
    throw invalid("pool", `Machine '${machineId}' is in pool '${machine.pool}', not '${pool}'`);
  }
  return machine.pool;
}

export async function createDeployment(db: Db, userId: string, input: CreateDeploymentInput) {
  const pool = await poolOfPin(db, userId, input.machine_id, input.pool);
  const { workflow, version } = await findVersionToPin(db, userId, input.workflow_id, pickOf(input));
  const bindings = input.inputs ?? [];
  const now = nowIso();
  const row = {
    id: newId(),
    userId,
    workflowId: workflow.id,
    workflowVersionId: version.id,
    name: input.name ?? workflow.name,
    description: input.description ?? null,
    environment: input.environment ?? "production",
    pool: pool ?? DEFAULT_POOL,
    machineId: input.machine_id ?? null,
    bindings,
    inputSpec: deriveInputSpec(version.workflowApi, bindings),
    outputSpec: outputSpec(version.workflowApi),
    isActive: true,
    createdAt: now,
    updatedAt: now,
  };
  const created = await insertDeployment(db, row, {
    id: newId(),
    kind: "created",
    toVersionId: version.id,
    createdAt: now,
  });
  return publicDeployment({ deployment: created, workflowName: workflow.name, version: version.version });
}

export async function listDeployments(
  db: Db,
  userId: string,
  filters: { environment?: DeploymentEnvironment; is_fluid?: boolean; workflow_id?: string },
) {
  const views = await listDeploymentViews(db, userId, {
    environment: filters.environment,
    isFluid: filters.is_fluid,
    workflowId: filters.workflow_id,
  });
  return views.map(publicDeployment);
}

export async function getDeployment(db: Db, userId: string, id: string) {
  return publicDeployment(await requireDeployment(db, userId, id));
}

async function applyChange(
  db: Db,
  userId: string,
  view: DeploymentView,
  changes: Partial<DeploymentRow>,
  event: Omit<NewDeploymentEvent, "id" | "createdAt">,
) {
  const now = nowIso();
  const updated = await updateDeploymentRow(
    db,
    userId,
    view.deployment.id,
    { ...changes, updatedAt: now },
    { ...event, id: newId(), createdAt: now },
  );
  if (!updated) throw notFound("Deployment");
  return publicDeployment({ ...view, deployment: updated });
}

/**
 * Changes a deployment. Pinning another version of its workflow is a promotion: the input spec is
 * derived again from that version, and the change is recorded with the versions it moved between.
 */
export async function updateDeployment(db: Db, userId: string, id: string, input: UpdateDeploymentInput) {
  const view = await requireDeployment(db, userId, id);
  const d = view.deployment;
  if (input.machine_id) input = { ...input, pool: await poolOfPin(db, userId, input.machine_id, input.pool) };
  const pick = pickOf(input);
  const target =
    pick.versionId !== undefined || pick.version !== undefined
      ? (await findVersionToPin(db, userId, d.workflowId, pick)).version
      : undefined;
  const promoted = target !== undefined && target.id !== d.workflowVersionId;
  const changes: Partial<DeploymentRow> = {};
  const recorded: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, keyof DeploymentRow][]) {
    const value = input[field];
    if (value === undefined || value === d[column]) continue;
    Object.assign(changes, { [column]: value });
    recorded[field] = value;
  }
  if (promoted || input.inputs !== undefined) {
    const graph = promoted ? target.workflowApi : await pinnedGraph(db, userId, d);
    const bindings = input.inputs ?? d.bindings;
    changes.bindings = bindings;
    changes.inputSpec = deriveInputSpec(graph, bindings);
    changes.outputSpec = outputSpec(graph);
    if (input.inputs !== undefined) recorded.inputs = bindings;
    if (promoted) changes.workflowVersionId = target.id;
  }
  if (Object.keys(changes).length === 0) return publicDeployment(view);
  const kind = promoted
    ? "promoted"
    : changes.isActive === undefined
      ? "updated"
      : changes.isActive
        ? "activated"
        : "deactivated";
  return applyChange(db, userId, { ...view, version: target?.version ?? view.version }, changes, {
    kind,
    fromVersionId: d.workflowVersionId,
    toVersionId: target?.id ?? d.workflowVersionId,
    changes: recorded,
  });
}

async function pinnedGraph(db: Db, userId: string, d: DeploymentRow): Promise<ApiGraph> {
  const version = await findVersionById(db, userId, d.workflowVersionId);
  if (!version) throw notFound("Workflow version");
  return version.workflowApi;
}

/** Idempotent: a deployment that is already inactive is returned as it is. */
export async function deactivateDeployment(db: Db, userId: string, id: string) {
  const view = await requireDeployment(db, userId, id);
  if (!view.deployment.isActive) return publicDeployment(view);
  return applyChange(db, userId, view, { isActive: false }, { kind: "deactivated" });
}

export async function deleteDeployment(db: Db, userId: string, id: string) {
  const view = await requireDeployment(db, userId, id);
  await applyChange(db, userId, view, { isActive: false, deletedAt: nowIso() }, { kind: "deleted" });
}

export async function getDeploymentInputs(db: Db, userId: string, id: string) {
  const { deployment: d, version } = await requireDeployment(db, userId, id);
  return {
    deployment_id: d.id,
    workflow_id: d.workflowId,
    workflow_version_id: d.workflowVersionId,
    version,
    inputs: d.inputSpec,
    bindings: d.bindings,
  };
}

export async function getDeploymentHistory(db: Db, userId: string, id: string) {
  await requireDeployment(db, userId, id);
  return (await listDeploymentEvents(db, id)).map((e) => ({
    id: e.id,
    kind: e.kind,
    from_version_id: e.fromVersionId,
    to_version_id: e.toVersionId,
    changes: e.changes,
    created_at: e.createdAt,
  }));
}

/**
 * Workflow versions' graphs this isolate has read: a version is immutable, so they never go stale.
 * Shared between runs: callers never change a graph they are given.
 */
const graphsByVersion = new TtlCache<ApiGraph>(Number.POSITIVE_INFINITY, 256);

/**
 * What a run needs from its deployment. Another owner's or a deleted deployment is a 404; a
 * deactivated one is a 409.
 */
export async function resolveDeploymentForRun(
  db: Db,
  userId: string,
  deploymentId: string,
): Promise<{
  deployment: {
    id: string;
    name: string;
    pool: string;
    machineId: string | null;
    workflowId: string;
    workflowVersionId: string;
    environment: DeploymentEnvironment;
  };
  graph: ApiGraph;
  inputSpec: InputBinding[];
  poolState: PoolState;
}> {
  const found = await findDeploymentForRun(db, userId, deploymentId);
  if (!found) throw notFound("Deployment");
  const { deployment: d, poolState } = found;
  if (!d.isActive) throw new AppError("conflict", "This deployment is deactivated");
  const graph = await graphsByVersion.getOrLoad(d.workflowVersionId, () =>
    findVersionGraph(db, d.workflowVersionId),
  );
  if (!graph) throw notFound("Deployment");
  return {
    deployment: {
      id: d.id,
      name: d.name,
      pool: d.pool,
      machineId: d.machineId,
      workflowId: d.workflowId,
      workflowVersionId: d.workflowVersionId,
      environment: d.environment,
    },
    graph,
    inputSpec: d.inputSpec,
    poolState,
  };
}
