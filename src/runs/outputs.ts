import type { Db } from "../db/client";
import type { RunRow, StoredOutput } from "../db/schema";
import type { Bindings } from "../env";
import { normaliseContentType, sanitiseFilename } from "../lib/file-types";
import { newId, nowIso } from "../lib/ids";
import { presignPut, signedDownloadUrl } from "../lib/signed-urls";
import type { RunOutput } from "../protocol/v1";
import { type FileRow, findOwnedFileByKey, insertFile } from "../stores/files";

const UPLOAD_GRANT_TTL_SECONDS = 3600;
const RECORDED_URL_TTL_SECONDS = 7 * 86400;
const READ_URL_TTL_SECONDS = 86400;

/** Whose run and which attempt a grant is for; the attempt keeps a retry from overwriting an earlier one. */
export type OutputOwner = { userId: string; runId: string; attempt: number };

export const outputKey = (owner: OutputOwner, name: string) =>
  `outputs/${owner.userId}/${owner.runId}/${owner.attempt}/${name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200)}`;

/** One presigned PUT per output file, straight to R2, under the run's own attempt prefix. */
export async function outputUploadGrants(
  env: Bindings,
  origin: string,
  owner: OutputOwner,
  files: { name: string; content_type: string; size: number }[],
) {
  return Promise.all(
    files.map(async (file) => {
      const key = outputKey(owner, file.name);
      const signed = await presignPut(
        env,
        origin,
        key,
        file.content_type,
        file.size,
        UPLOAD_GRANT_TTL_SECONDS,
      );
      return { name: file.name, key, url: signed.url, method: "PUT" as const, headers: signed.headers };
    }),
  );
}

/** Deletes what an agent uploaded for a run that ended without recording it (cancelled, timed out). */
export async function discardUploadedOutputs(env: Bindings, keys: Iterable<string>) {
  const list = [...keys];
  if (list.length > 0) await env.BUCKET.delete(list);
}

/**
 * Records a run output that an agent already PUT to R2 at `key`. Idempotent per key, so a resent
 * completion report does not record it twice.
 */
export async function recordOutputFile(
  db: Db,
  input: { userId: string; runId: string; key: string; filename: string; contentType: string; size: number },
): Promise<FileRow> {
  const existing = await findOwnedFileByKey(db, input.userId, input.key);
  if (existing) return existing;
  return insertFile(db, {
    id: newId(),
    userId: input.userId,
    r2Key: input.key,
    filename: sanitiseFilename(input.filename, "output"),
    contentType: normaliseContentType(input.contentType) ?? "application/octet-stream",
    size: input.size,
    status: "ready",
    purpose: "output",
    runId: input.runId,
    confirmedAt: nowIso(),
  });
}

/** Records each uploaded output as a file of the run's owner, with a signed URL for browsers. */
export async function recordRunOutputs(
  env: Bindings,
  db: Db,
  run: { runId: string; userId: string; origin: string },
  outputs: RunOutput[],
): Promise<StoredOutput[]> {
  return Promise.all(
    outputs.map(async (output) => {
      if (!output.key) return output;
      const file = await recordOutputFile(db, {
        userId: run.userId,
        runId: run.runId,
        key: output.key,
        filename: output.filename,
        contentType: output.content_type,
        size: output.size,
      });
      return {
        ...output,
        file_id: file.id,
        url: await signedDownloadUrl(env, run.origin, file.id, RECORDED_URL_TTL_SECONDS),
      };
    }),
  );
}

/** The run with every output URL signed afresh, so a URL read now is good for a day from now. */
export async function withFreshOutputUrls(env: Bindings, origin: string, run: RunRow): Promise<RunRow> {
  if (!run.outputs?.length) return run;
  const outputs = await Promise.all(
    run.outputs.map(async (o) =>
      o.file_id ? { ...o, url: await signedDownloadUrl(env, origin, o.file_id, READ_URL_TTL_SECONDS) } : o,
    ),
  );
  return { ...run, outputs };
}
