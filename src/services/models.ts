import type { Db } from "../db/client";
import { dispatcherClient } from "../durable/dispatcher/client";
import type { Bindings } from "../env";
import { notFound } from "../lib/errors";
import { listMachines } from "../stores/machines";
import { activeUserDownloads, downloadFraction, type ModelDownloadRow } from "../stores/model-downloads";
import { listUserModels, type MachineModelRow } from "../stores/models";

/** Seed 004's model types for ComfyUI's folders; other folders keep their own name as the type. */
const TYPE_OF_FOLDER: Readonly<Record<string, string>> = {
  checkpoints: "checkpoint",
  loras: "lora",
  embeddings: "embedding",
  vae: "vae",
  controlnet: "controlnet",
  upscale_models: "upscaler",
};

export const typeOf = (folder: string) => TYPE_OF_FOLDER[folder] ?? folder;

/** The folder a type names: seed 004's type, or a ComfyUI folder name. */
export const folderOf = (type: string) =>
  Object.entries(TYPE_OF_FOLDER).find(([, known]) => known === type)?.[0] ?? type;

const megabytes = (bytes: number | null) => (bytes === null ? null : Math.round((bytes / 2 ** 20) * 10) / 10);

function machineView(row: MachineModelRow) {
  return {
    machine_id: row.machineId,
    machine_name: row.machineName,
    pool: row.pool,
    status: row.machineStatus,
    instance_id: row.instanceId,
    file_size_mb: megabytes(row.sizeBytes),
    modified_at: row.modifiedAt === null ? null : new Date(row.modifiedAt).toISOString(),
    hash: row.sha256,
  };
}

/**
 * Seed 004's model view of one file across the machines that have it. ComfyUI says nothing of which
 * models it holds in memory, so those fields are null; `is_downloading` says a download of this file
 * onto another machine is under way (`download_progress` is that download's, 0–1, when known).
 */
function modelView(rows: MachineModelRow[], downloads: ModelDownloadRow[]) {
  const first = rows[0] as MachineModelRow;
  const active = downloads.filter((d) => d.folder === first.folder && d.name === first.name);
  const hashes = new Set(rows.map((row) => row.sha256));
  const [hash] = hashes;
  return {
    name: first.name,
    type: typeOf(first.folder),
    is_loaded: null,
    is_downloading: active.length > 0,
    download_progress: active.length === 1 ? downloadFraction(active[0] as ModelDownloadRow) : null,
    last_used: null,
    memory_usage_mb: null,
    file_size_mb: megabytes(rows.find((row) => row.sizeBytes !== null)?.sizeBytes ?? null),
    file_path: `models/${first.folder}/${first.name}`,
    // One hash only when every machine's copy is hashed and the same.
    hash: hashes.size === 1 ? (hash ?? null) : null,
    metadata: { folder: first.folder },
    machines: rows.map(machineView),
  };
}

/** Rows of one folder and name together, in the store's order (folder, name, machine). */
function byFile(rows: MachineModelRow[]) {
  const groups = new Map<string, MachineModelRow[]>();
  for (const row of rows) {
    const key = `${row.folder}/${row.name}`;
    groups.set(key, [...(groups.get(key) ?? []), row]);
  }
  return [...groups.values()];
}

export async function listModels(db: Db, userId: string, filter: { type?: string; machineId?: string }) {
  const rows = await listUserModels(db, userId, {
    folder: filter.type === undefined ? undefined : folderOf(filter.type),
    machineId: filter.machineId,
  });
  const downloads = await activeUserDownloads(db, userId);
  return {
    models: byFile(rows).map((file) => modelView(file, downloads)),
    total_memory_usage_mb: null,
    available_memory_mb: null,
  };
}

/** The rows of one model by name (and type, when two folders hold that name); 404 when none has it. */
export async function modelRows(db: Db, userId: string, name: string, type?: string) {
  const rows = await listUserModels(db, userId, {
    name,
    folder: type === undefined ? undefined : folderOf(type),
  });
  const [file] = byFile(rows);
  if (!file) throw notFound("model");
  return file;
}

export async function getModel(db: Db, userId: string, name: string, type?: string) {
  return modelView(await modelRows(db, userId, name, type), await activeUserDownloads(db, userId));
}

type FreeTarget = { pool: string; machineId: string; instanceIds?: string[] };

/** Sends `free_memory` through each pool's Dispatcher; the machines whose agents were connected. */
async function freeMemoryOn(env: Bindings, userId: string, targets: FreeTarget[], freeMemory: boolean) {
  const pools = new Map<string, FreeTarget[]>();
  for (const target of targets) pools.set(target.pool, [...(pools.get(target.pool) ?? []), target]);
  const reached = await Promise.all(
    [...pools].map(([pool, inPool]) => dispatcherClient(env, userId, pool).freeMemory(inPool, freeMemory)),
  );
  return reached.flat();
}

/**
 * Seed 004's unload. ComfyUI cannot unload one model: its `POST /free` unloads every model of the
 * instance, so this asks each instance that has the file to do that (between prompts, never mid-run).
 */
export async function unloadModel(env: Bindings, db: Db, userId: string, name: string, type?: string) {
  const rows = await modelRows(db, userId, name, type);
  const instances = new Map<string, FreeTarget & { instanceIds: string[] }>();
  for (const row of rows) {
    const target = instances.get(row.machineId) ?? {
      pool: row.pool,
      machineId: row.machineId,
      instanceIds: [],
    };
    target.instanceIds.push(row.instanceId);
    instances.set(row.machineId, target);
  }
  const machines = await freeMemoryOn(env, userId, [...instances.values()], false);
  return {
    message: "Unload requested: ComfyUI unloads every model of each instance that has this one",
    model_name: rows[0]?.name ?? name,
    machines,
  };
}

/**
 * Seed 004's cleanup. ComfyUI does not say when a model was last used, so `max_age_hours` cannot pick
 * models: every connected machine is asked to unload all models and free cached memory.
 */
export async function cleanupModels(env: Bindings, db: Db, userId: string) {
  const targets = (await listMachines(db, userId))
    .filter((machine) => machine.status !== "offline")
    .map((machine) => ({ pool: machine.pool, machineId: machine.id }));
  const machines = await freeMemoryOn(env, userId, targets, true);
  return {
    message: "Cleanup requested: connected machines unload all models",
    models_unloaded: [],
    machines,
  };
}
