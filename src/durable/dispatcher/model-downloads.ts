import type { Db } from "../../db/client";
import type { Bindings } from "../../env";
import { signedDownloadUrl } from "../../lib/signed-urls";
import type {
  ModelDownloadMessage,
  ModelDownloadProgressMessage,
  ModelDownloadResultMessage,
  ModelsRemovedMessage,
} from "../../protocol/v1";
import {
  downloadFraction,
  finishDownload,
  type ModelDownloadRow,
  recordDownloadProgress,
  unfinishedDownloadsOf,
} from "../../stores/model-downloads";
import { publishFleetEvent } from "../fleet-room/client";
import type { ModelDownloadEvent } from "../fleet-room/events";

/** How long the signed URL of a stored file stays valid for a download (resumes included). */
const SOURCE_URL_TTL_SECONDS = 24 * 3600;

type Agent = { machineId: string; userId: string; origin: string };

/** The `model_download` messages of a machine's unfinished downloads; stored files get a fresh signed URL. */
export async function downloadMessages(env: Bindings, db: Db, agent: Agent): Promise<ModelDownloadMessage[]> {
  const rows = await unfinishedDownloadsOf(db, agent.machineId);
  return Promise.all(
    rows.map(async (row) => ({
      type: "model_download" as const,
      download_id: row.id,
      folder: row.folder,
      name: row.name,
      url: row.sourceFileId
        ? await signedDownloadUrl(env, agent.origin, row.sourceFileId, SOURCE_URL_TTL_SECONDS)
        : (row.sourceUrl as string),
      sha256: row.expectedSha256 ?? undefined,
    })),
  );
}

export async function applyDownloadProgress(
  env: Bindings,
  db: Db,
  agent: Agent,
  message: ModelDownloadProgressMessage,
) {
  const row = await recordDownloadProgress(db, agent.machineId, message.download_id, {
    bytesDone: message.bytes_done,
    bytesTotal: message.bytes_total,
  });
  if (row)
    await publishFleetEvent(env, agent.userId, { type: "model_download_progress", data: eventData(row) });
}

export async function applyDownloadResult(
  env: Bindings,
  db: Db,
  agent: Agent,
  message: ModelDownloadResultMessage,
) {
  const row = await finishDownload(
    db,
    agent.machineId,
    message.download_id,
    message.status === "completed"
      ? { status: "completed", sha256: message.sha256, sizeBytes: message.size_bytes }
      : { status: "failed", error: message.error },
  );
  if (!row) return;
  const type = row.status === "completed" ? "model_download_completed" : "model_download_failed";
  await publishFleetEvent(env, agent.userId, { type, data: eventData(row) });
}

export async function announceRemoval(env: Bindings, agent: Agent, message: ModelsRemovedMessage) {
  await publishFleetEvent(env, agent.userId, {
    type: "models_removed",
    data: {
      machineId: agent.machineId,
      requestId: message.request_id,
      removed: message.removed,
      kept: message.kept,
    },
  });
}

function eventData(row: ModelDownloadRow): ModelDownloadEvent {
  return {
    downloadId: row.id,
    machineId: row.machineId,
    modelName: row.name,
    folder: row.folder,
    status: row.status,
    bytesDone: row.bytesDone,
    bytesTotal: row.bytesTotal,
    progress: downloadFraction(row),
    sha256: row.sha256,
    error: row.error,
  };
}
