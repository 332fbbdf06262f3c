import type { Db } from "../db/client";
import type { Bindings } from "../env";
import { invalid } from "../lib/errors";
import { signedDownloadUrl } from "../lib/signed-urls";
import type { InputBinding } from "../protocol/graph";
import type { JobPayload } from "../protocol/v1";
import { requireOwnedFile } from "./files";

type Context = { env: Bindings; db: Db; userId: string; origin: string };

const INPUT_URL_TTL_SECONDS = 24 * 3600;

const isFileInput = (binding: InputBinding) => binding.type === "image" || binding.type === "file";

/**
 * A run's inputs as its agent gets them, decided here once: `inputs` holds each bound scalar's final
 * value (defaults already applied); `input_urls` holds each file input as what the agent fetches and
 * uploads to ComfyUI. The agent only fetches and binds.
 */
export async function resolveJobInputs(
  ctx: Context,
  bindings: InputBinding[],
  values: Record<string, unknown>,
): Promise<Pick<JobPayload, "inputs" | "input_urls">> {
  const inputs: Record<string, unknown> = {};
  const files: Record<string, string> = {};
  for (const binding of bindings) {
    const value = values[binding.input_id];
    if (value === undefined || value === null || value === "") continue;
    if (isFileInput(binding)) files[binding.input_id] = await fileSource(ctx, binding, value);
    else inputs[binding.input_id] = value;
  }
  return { inputs, input_urls: files };
}

/**
 * A URL or data URI as given; the workflow's own default as is (a file in ComfyUI's input folder);
 * a file id of the caller as a signed URL the agent can fetch without a token.
 */
async function fileSource(ctx: Context, binding: InputBinding, value: unknown): Promise<string> {
  const field = `inputs.${binding.input_id}`;
  if (typeof value !== "string")
    throw invalid(field, "must be an http(s) URL, a base64 data URI or a file id");
  if (/^(https?:|data:)/i.test(value) || value === binding.default) return value;
  const file = await requireOwnedFile(ctx.db, ctx.userId, value, field, ctx.env);
  return signedDownloadUrl(ctx.env, ctx.origin, file.id, INPUT_URL_TTL_SECONDS);
}
