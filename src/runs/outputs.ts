import type { RunRow, StoredOutput } from "../db/schema";
import type { Bindings } from "../env";
import { normaliseContentType, sanitiseFilename } from "../lib/file-types";
import { newId, nowIso } from "../lib/ids";
import { presignPut, signedDownloadUrl } from "../lib/signed-urls";
import type { RunOutput } from "../protocol/v1";
import type { NewFile } from "../stores/files";

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
 * The run's outputs as they are stored, each uploaded one as a file of the run's owner with a signed URL
 * for browsers; `newFiles` are the rows to insert with the run's final write (which keeps a repeated
 * success from recording a key twice).
 */
export async function outputFiles(
  env: Bindings,
  run: { runId: string; userId: string; origin: string },
  outputs: RunOutput[],
): Promise<{ stored: StoredOutput[]; newFiles: (NewFile & { runId: string })[] }> {
  const newFiles: (NewFile & { runId: string })[] = [];
  const stored = await Promise.all(
    outputs.map(async (output) => {
      if (!output.key) return output;
      const id = newId();
      newFiles.push(newOutputFile(id, run, output));
      return {
        ...output,
        file_id: id,
        url: await signedDownloadUrl(env, run.origin, id, RECORDED_URL_TTL_SECONDS),
      };
    }),
  );
  return { stored, newFiles };
}

const newOutputFile = (
  id: string,
  run: { runId: string; userId: string },
  output: RunOutput,
): NewFile & { runId: string } => ({
  id,
  userId: run.userId,
  r2Key: output.key as string,
  filename: sanitiseFilename(output.filename, "output"),
  contentType: normaliseContentType(output.content_type) ?? "application/octet-stream",
  size: output.size,
  status: "ready",
  purpose: "output",
  runId: run.runId,
  confirmedAt: nowIso(),
});

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
