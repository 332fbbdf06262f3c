import type { Db } from "../db/client";
import { AppError } from "../lib/errors";
import {
  distinctModels,
  type ModelInputs,
  type ModelRef,
  mergeModelInputs,
  modelInputsOf,
  modelsNamedBy,
  type NamedModel,
} from "../lib/graph/model-files";
import { bindInputs, InputError } from "../protocol/bind-inputs";
import type { ApiGraph, InputBinding } from "../protocol/graph";
import type { JobPayload } from "../protocol/v1";
import {
  type InventoryInstance,
  instanceModelFiles,
  type ModelScope,
  modelFilesInScope,
} from "../stores/models";
import { definitionsByHash } from "./node-definitions";

type Context = { env: { BUCKET: R2Bucket }; db: Db; userId: string };

/**
 * Definitions and inventory under these hashes never change, so an isolate keeps what it worked out:
 * a few dozen entries per instance, and reading definitions again costs an R2 read per instance.
 */
const analyses = new Map<string, ModelInputs>();
const CACHE_LIMIT = 512;

async function instanceModelInputs(ctx: Context, instance: InventoryInstance): Promise<ModelInputs> {
  const key = `${instance.definitionsHash ?? ""}|${instance.modelsHash}`;
  const cached = analyses.get(key);
  if (cached) return cached;
  const [definitions, files] = await Promise.all([
    instance.definitionsHash ? definitionsByHash(ctx.env.BUCKET, instance.definitionsHash) : undefined,
    instanceModelFiles(ctx.db, instance.machineId, instance.instanceId),
  ]);
  const folders = new Map<string, Set<string>>();
  for (const { folder, name } of files) folders.set(folder, (folders.get(folder) ?? new Set()).add(name));
  const inputs = modelInputsOf(definitions, folders);
  if (analyses.size >= CACHE_LIMIT) analyses.delete(analyses.keys().next().value as string);
  analyses.set(key, inputs);
  return inputs;
}

/**
 * The graph as the agent will queue it, bound values written in, so a deployment input that picks a
 * checkpoint counts. A binding the agent cannot make fails the run there (`input_error`); the files the
 * unbound graph names are still checked.
 */
export function graphAsRun(
  graph: ApiGraph,
  bindings: InputBinding[],
  job: Pick<JobPayload, "inputs" | "input_urls">,
) {
  const values = new Map<string, unknown>([...Object.entries(job.inputs), ...Object.entries(job.input_urls)]);
  try {
    return bindInputs(graph, bindings, values);
  } catch (error) {
    if (error instanceof InputError) return graph;
    throw error;
  }
}

const fileKey = (m: ModelRef) => `${m.folder}/${m.name}`;

/**
 * The model files a run's graph names (the inputs whose values are a model folder's files in the node
 * definitions of the machines in scope), checked against the inventories of `instances` (those in scope
 * that reported one): refused unless one ComfyUI instance holds them all, since a run goes to a single
 * instance. `runGraph` (a bound copy) is only called when there is an inventory to check. Returns them
 * for the Dispatcher to route on; none while no machine in scope has reported an inventory (nothing to
 * check against).
 */
export async function requiredModels(
  ctx: Context,
  runGraph: () => ApiGraph,
  scope: ModelScope,
  instances: readonly InventoryInstance[],
): Promise<ModelRef[]> {
  if (instances.length === 0) return [];
  const inputs = mergeModelInputs(await Promise.all(instances.map((i) => instanceModelInputs(ctx, i))));
  const named = modelsNamedBy(runGraph(), inputs);
  if (named.length === 0) return [];
  const held = await modelFilesInScope(
    ctx.db,
    ctx.userId,
    scope,
    named.map((m) => m.name),
  );
  const heldBy = new Map<string, Set<string>>();
  for (const row of held) {
    const instance = `${row.machineId}/${row.instanceId}`;
    heldBy.set(instance, (heldBy.get(instance) ?? new Set()).add(fileKey(row)));
  }
  const needed = distinctModels(named);
  const holders = [...heldBy.values()];
  if (holders.some((files) => needed.every((m) => files.has(fileKey(m))))) return needed;
  const missing = named.filter((m) => !holders.some((files) => files.has(fileKey(m))));
  throw missing.length > 0 ? missingModels(missing, scope) : modelsApart(named, scope);
}

const where = (scope: ModelScope) =>
  scope.machineId ? "the deployment's machine" : `any machine of pool "${scope.pool}"`;

function missingModels(missing: NamedModel[], scope: ModelScope) {
  const names = distinctModels(missing).map(fileKey).join(", ");
  return new AppError(
    "validation_error",
    `Model files not found on ${where(scope)}: ${names}. Put them on a machine of the pool first, or name files one has (GET /models)`,
    missing.map((m) => ({
      code: "MODEL_NOT_FOUND",
      message: `${m.folder}/${m.name} is not on ${where(scope)}`,
      field: `${m.nodeId}.inputs.${m.input}`,
      value: { folder: m.folder, name: m.name },
    })),
  );
}

function modelsApart(named: NamedModel[], scope: ModelScope) {
  return new AppError(
    "validation_error",
    `No single ComfyUI instance of ${where(scope)} holds every model file the graph names: ${distinctModels(named).map(fileKey).join(", ")}`,
    named.map((m) => ({
      code: "MODELS_NOT_TOGETHER",
      message: `${m.folder}/${m.name} is not on an instance that has the others`,
      field: `${m.nodeId}.inputs.${m.input}`,
      value: { folder: m.folder, name: m.name },
    })),
  );
}
