import type { Db } from "../db/client";
import type { Bindings } from "../env";
import type { InputBinding } from "../protocol/graph";
import type { RunOutput } from "../protocol/v1";
import type { RunRow } from "../stores/runs";
import { presignPut, recordOutputFile, requireOwnedFile, signedDownloadUrl } from "./files";
import type { StoredOutput } from "./run-views";

type Context = { env: Bindings; db: Db; userId: string; origin: string };

/** R2 keys of a run's outputs; the attempt keeps a retried lease from overwriting an earlier one. */
export const outputKey = (userId: string, runId: string, attempt: number, name: string) =>
  `outputs/${userId}/${runId}/${attempt}/${name.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200)}`;

export async function outputUploadGrants(
  env: Bindings,
  origin: string,
  job: {
    userId: string;
    runId: string;
    attempt: number;
    files: { name: string; content_type: string; size: number }[];
  },
) {
  return Promise.all(
    job.files.map(async (file) => {
      const key = outputKey(job.userId, job.runId, job.attempt, file.name);
      const signed = await presignPut(env, origin, key, file.content_type, file.size, 3600);
      return { name: file.name, key, url: signed.url, method: "PUT" as const, headers: signed.headers };
    }),
  );
}

/** Records each uploaded output as a file of the run's owner, with a signed URL for browsers. */
export async function recordRunOutputs(
  env: Bindings,
  db: Db,
  ctx: { runId: string; userId: string; origin: string },
  outputs: RunOutput[],
): Promise<StoredOutput[]> {
  return Promise.all(
    outputs.map(async (output) => {
      if (!output.key) return output;
      const file = await recordOutputFile(db, {
        userId: ctx.userId,
        runId: ctx.runId,
        key: output.key,
        filename: output.filename,
        contentType: output.content_type,
        size: output.size,
      });
      return {
        ...output,
        file_id: file.id,
        url: await signedDownloadUrl(env, ctx.origin, file.id, 7 * 86400),
      };
    }),
  );
}

/** Image and file inputs given as file ids become signed URLs the agent can fetch without a token. */
export async function resolveInputFileUrls(
  ctx: Context,
  bindings: InputBinding[],
  inputs: Record<string, unknown>,
): Promise<Record<string, string>> {
  const fileInputs = bindings.filter(
    (b) => (b.type === "image" || b.type === "file") && typeof inputs[b.input_id] === "string",
  );
  const urls: Record<string, string> = {};
  for (const binding of fileInputs) {
    const value = inputs[binding.input_id] as string;
    if (/^(https?:|data:)/i.test(value)) continue;
    const file = await requireOwnedFile(ctx.db, ctx.userId, value, `inputs.${binding.input_id}`, ctx.env);
    urls[binding.input_id] = await signedDownloadUrl(ctx.env, ctx.origin, file.id, 24 * 3600);
  }
  return urls;
}

/** The run with every output URL signed afresh, so a URL read now is good for a day from now. */
export async function withFreshOutputUrls(env: Bindings, origin: string, run: RunRow): Promise<RunRow> {
  if (!run.outputs?.length) return run;
  const outputs = await Promise.all(
    (run.outputs as StoredOutput[]).map(async (o) =>
      o.file_id ? { ...o, url: await signedDownloadUrl(env, origin, o.file_id, 86400) } : o,
    ),
  );
  return { ...run, outputs };
}
