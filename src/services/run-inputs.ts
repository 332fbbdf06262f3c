import type { Db } from "../db/client";
import type { Bindings } from "../env";
import { signedDownloadUrl } from "../lib/signed-urls";
import type { InputBinding } from "../protocol/graph";
import { requireOwnedFile } from "./files";

type Context = { env: Bindings; db: Db; userId: string; origin: string };

const INPUT_URL_TTL_SECONDS = 24 * 3600;

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
    urls[binding.input_id] = await signedDownloadUrl(ctx.env, ctx.origin, file.id, INPUT_URL_TTL_SECONDS);
  }
  return urls;
}
