import type { Db } from "../db/client";
import { dispatcherClient } from "../durable/dispatcher/client";
import type { Bindings } from "../env";
import { invalid, notFound } from "../lib/errors";
import { newId } from "../lib/ids";
import type { ModelCleanupMessage, ModelDeleteMessage } from "../protocol/v1";
import { listMachines, type MachineRow } from "../stores/machines";
import {
  downloadFraction,
  insertModelDownloads,
  type ModelDownloadRow,
  userDownloadsOf,
} from "../stores/model-downloads";
import { listUserModels } from "../stores/models";
import { requireOwnedFile } from "./files";
import { folderOf, typeOf } from "./models";

type Context = { env: Bindings; db: Db; userId: string };

/** Which machines of the tenant a model operation is for: one, a pool, or (neither given) all of them. */
export type MachineTarget = { machineId?: string; pool?: string };

export type DownloadRequest = MachineTarget & {
  name: string;
  type: string;
  downloadUrl?: string;
  fileId?: string;
  sha256?: string;
  description?: string;
};

/** The tenant's machines a target names; another tenant's machine, or an empty pool, is not found. */
async function targetMachines(db: Db, userId: string, target: MachineTarget): Promise<MachineRow[]> {
  if (target.machineId !== undefined && target.pool !== undefined)
    throw invalid("machine_id", "give a machine_id or a pool, not both");
  const machines = (await listMachines(db, userId)).filter(
    (m) =>
      (target.machineId === undefined || m.id === target.machineId) &&
      (target.pool === undefined || m.pool === target.pool),
  );
  if (machines.length === 0) throw notFound(target.pool !== undefined ? "pool" : "machine");
  return machines;
}

/** Groups machine ids by pool: each pool's Dispatcher reaches its own agents. */
function byPool(machines: MachineRow[]): Map<string, string[]> {
  const pools = new Map<string, string[]>();
  for (const m of machines) pools.set(m.pool, [...(pools.get(m.pool) ?? []), m.id]);
  return pools;
}

/**
 * An http(s) URL without credentials. Where it may point (public addresses only) is enforced by the
 * agent when it resolves the host, as for run inputs, so that DNS cannot be changed in between.
 */
function checkSourceUrl(value: string): string {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:"))
    throw invalid("download_url", "download_url must be an http(s) URL", "UNSAFE_URL");
  if (url.username || url.password)
    throw invalid("download_url", "download_url must not carry credentials", "UNSAFE_URL");
  return url.href;
}

/**
 * Seed 004's download, onto machines: one download per target machine, recorded first and then sent to
 * the machines that are connected (the others get it when their agent next says hello).
 */
export async function startModelDownload(ctx: Context, request: DownloadRequest) {
  if ((request.downloadUrl === undefined) === (request.fileId === undefined))
    throw invalid("download_url", "give exactly one source: download_url or file_id");
  const source = request.fileId
    ? { sourceFileId: (await requireOwnedFile(ctx.db, ctx.userId, request.fileId, "file_id", ctx.env)).id }
    : { sourceUrl: checkSourceUrl(request.downloadUrl as string) };
  const machines = await targetMachines(ctx.db, ctx.userId, request);
  const folder = folderOf(request.type);
  const rows = machines.map((machine) => ({
    id: newId(),
    userId: ctx.userId,
    machineId: machine.id,
    folder,
    name: request.name,
    description: request.description ?? null,
    expectedSha256: request.sha256 ?? null,
    ...source,
  }));
  await insertModelDownloads(ctx.db, rows);
  const sent = new Set(
    (
      await Promise.all(
        [...byPool(machines)].map(([pool, ids]) =>
          dispatcherClient(ctx.env, ctx.userId, pool).sendModelDownloads(ids),
        ),
      )
    ).flat(),
  );
  return {
    message: "Model download started",
    model_name: request.name,
    model_type: typeOf(folder),
    downloads: rows.map((row) => ({
      download_id: row.id,
      machine_id: row.machineId,
      status: "pending" as const,
      sent: sent.has(row.machineId),
    })),
  };
}

/** A source URL without its query (signed URLs and tokens live there). */
const shownSource = (row: ModelDownloadRow) => {
  if (row.sourceFileId) return { file_id: row.sourceFileId };
  const url = new URL(row.sourceUrl as string);
  return { url: `${url.origin}${url.pathname}` };
};

function downloadView(row: ModelDownloadRow) {
  return {
    download_id: row.id,
    machine_id: row.machineId,
    status: row.status,
    bytes_done: row.bytesDone,
    bytes_total: row.bytesTotal,
    progress: downloadFraction(row),
    expected_sha256: row.expectedSha256,
    sha256: row.sha256,
    error: row.error,
    source: shownSource(row),
    description: row.description,
    created_at: row.createdAt,
    finished_at: row.finishedAt,
  };
}

/** The newest download of each machine, from rows that are newest first. */
function latestPerMachine(rows: ModelDownloadRow[]) {
  const latest = new Map<string, ModelDownloadRow>();
  for (const row of rows) if (!latest.has(row.machineId)) latest.set(row.machineId, row);
  return [...latest.values()];
}

/** Bytes done over bytes to do across downloads, 0–1; null while a running one's size is unknown. */
function overallFraction(rows: ModelDownloadRow[]): number | null {
  if (rows.some((row) => row.status !== "completed" && row.bytesTotal === null)) return null;
  const total = rows.reduce((sum, row) => sum + (row.bytesTotal ?? 0), 0);
  const done = rows.reduce(
    (sum, row) => sum + (row.status === "completed" ? (row.bytesTotal ?? 0) : row.bytesDone),
    0,
  );
  return total === 0 ? null : done / total;
}

/**
 * Seed 004's download progress, across the machines the model was sent to: the newest download per
 * machine; `is_available` once a machine has the file (downloaded, or already listed by its ComfyUI).
 */
export async function modelDownloadProgress(db: Db, userId: string, name: string, type?: string) {
  const folder = type === undefined ? undefined : folderOf(type);
  const latest = latestPerMachine(await userDownloadsOf(db, userId, name, folder));
  const present = await listUserModels(db, userId, { name, folder });
  if (latest.length === 0 && present.length === 0) throw notFound("model");
  const active = latest.filter((row) => row.status === "pending" || row.status === "downloading");
  const failedOnly = latest.length > 0 && latest.every((row) => row.status === "failed");
  return {
    model_name: name,
    is_downloading: active.length > 0,
    download_progress:
      latest.length === 0 || failedOnly ? null : overallFraction(latest.filter((r) => r.status !== "failed")),
    is_available: present.length > 0 || latest.some((row) => row.status === "completed"),
    downloads: latest.map(downloadView),
  };
}

/** Sends a removal to the target machines' connected agents; the machines reached. */
async function sendRemoval(
  ctx: Context,
  machines: MachineRow[],
  message: ModelDeleteMessage | ModelCleanupMessage,
): Promise<string[]> {
  const reached = await Promise.all(
    [...byPool(machines)].map(([pool, ids]) =>
      dispatcherClient(ctx.env, ctx.userId, pool).removeModels(ids, message),
    ),
  );
  return reached.flat();
}

/**
 * Deletes a model file from disk on the target machines that have it (our extension). Agents never
 * delete a file a running job names, nor anything outside ComfyUI's models folder.
 */
export async function deleteModelFromDisk(
  ctx: Context,
  name: string,
  type: string | undefined,
  target: MachineTarget,
) {
  const targets = await targetMachines(ctx.db, ctx.userId, target);
  const folderFilter = type === undefined ? undefined : folderOf(type);
  const rows = (await listUserModels(ctx.db, ctx.userId, { name, folder: folderFilter })).filter((row) =>
    targets.some((m) => m.id === row.machineId),
  );
  const folder = rows[0]?.folder;
  if (folder === undefined) throw notFound("model");
  const holders = targets.filter((m) => rows.some((row) => row.folder === folder && row.machineId === m.id));
  const requestId = newId();
  const machines = await sendRemoval(ctx, holders, {
    type: "model_delete",
    request_id: requestId,
    folder,
    name,
  });
  return {
    message: "Deletion requested: each machine's agent deletes the file unless a running job uses it",
    model_name: name,
    model_type: typeOf(folder),
    request_id: requestId,
    machines,
  };
}

/** Least-recently-used deletion down to a disk budget per models folder, on the target machines. */
export async function cleanupModelDisk(ctx: Context, budgetBytes: number, target: MachineTarget) {
  const requestId = newId();
  const machines = await sendRemoval(ctx, await targetMachines(ctx.db, ctx.userId, target), {
    type: "model_cleanup",
    request_id: requestId,
    budget_bytes: budgetBytes,
  });
  return {
    message: "Disk cleanup requested: least recently used model files go first, never one a running job uses",
    request_id: requestId,
    budget_bytes: budgetBytes,
    machines,
  };
}
