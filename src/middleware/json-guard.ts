import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "../lib/errors";
import { assertStorableJson } from "../lib/json-guard";
import { MiB, tooLarge } from "./body-limit";

/** The largest JSON body any route takes (a workflow with its UI document); routes set smaller limits. */
export const MAX_JSON_BODY_BYTES = 5 * MiB;

const WITH_BODY = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Bodies a route might read as JSON; file bytes and forms are streamed elsewhere and never parsed here. */
const PARSED_AS_JSON = /^(application\/([\w.+-]*\+)?json|text\/plain)\b/i;

async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) throw tooLarge(maxBytes);
  const reader = request.body!.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    total += read.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(read.value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * Every JSON body is read once here, bounded, and checked before any route parses it: valid UTF-8,
 * nesting within MAX_JSON_DEPTH, no integer JavaScript would round, no lone surrogate. The request
 * then goes on with the same bytes.
 */
export const guardJsonBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  if (!WITH_BODY.has(c.req.method) || !c.req.raw.body || (type && !PARSED_AS_JSON.test(type))) {
    return next();
  }
  const bytes = await readCapped(c.req.raw, MAX_JSON_BODY_BYTES);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new AppError("validation_error", "The body is not valid UTF-8", [
      { code: "INVALID_ENCODING", message: "The body is not valid UTF-8" },
    ]);
  }
  assertStorableJson(text);
  c.req.raw = new Request(c.req.raw, { body: bytes });
  await next();
};
