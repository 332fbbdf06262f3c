import type { Db } from "../db/client";
import { notFound } from "../lib/errors";
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

const typeOf = (folder: string) => TYPE_OF_FOLDER[folder] ?? folder;

/** The folder a type names: seed 004's type, or a ComfyUI folder name. */
const folderOf = (type: string) =>
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
 * models it holds in memory, and downloads are not run yet, so those fields are null or false.
 */
function modelView(rows: MachineModelRow[]) {
  const first = rows[0] as MachineModelRow;
  const hashes = new Set(rows.map((row) => row.sha256));
  const [hash] = hashes;
  return {
    name: first.name,
    type: typeOf(first.folder),
    is_loaded: null,
    is_downloading: false,
    download_progress: null,
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
  return { models: byFile(rows).map(modelView), total_memory_usage_mb: null, available_memory_mb: null };
}

/** One model by name (and type, when two folders hold that name), with each machine that has it. */
export async function getModel(db: Db, userId: string, name: string, type?: string) {
  const rows = await listUserModels(db, userId, {
    name,
    folder: type === undefined ? undefined : folderOf(type),
  });
  const [file] = byFile(rows);
  if (!file) throw notFound("model");
  return modelView(file);
}
