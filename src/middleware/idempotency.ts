import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { sha256Hex } from "../lib/crypto";
import { AppError, invalid } from "../lib/errors";
import { authenticate } from "../services/auth";
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  type IdempotencyRow,
  releaseIdempotencyKey,
} from "../stores/idempotency";
import { bearerToken } from "./auth";

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const RETENTION_MS = 24 * 3600_000;
/**
 * What makes two requests "the same": method, path and the JSON body. Uploads are streamed to R2 and
 * never buffered here, so for other bodies the declared length stands in for the bytes.
 */
async function fingerprint(c: Context<AppEnv>): Promise<string> {
  const head = `${c.req.method} ${c.req.path}\n`;
  if (c.req.header("Content-Type")?.startsWith("application/json"))
    return sha256Hex(head + (await c.req.text()));
  return sha256Hex(`${head}length:${c.req.header("Content-Length") ?? "unknown"}`);
}

async function principalOf(c: Context<AppEnv>) {
  try {
    return await authenticate(c.var.db, c.env, bearerToken(c.req.header("Authorization")));
  } catch {
    return null; // the route answers 401 itself
  }
}

function replay(held: IdempotencyRow) {
  const headers = new Headers({ "Idempotent-Replayed": "true" });
  if (held.responseContentType) headers.set("Content-Type", held.responseContentType);
  return new Response(held.responseBody, { status: held.responseStatus ?? 200, headers });
}

function answerHeld(held: IdempotencyRow | undefined, requestHash: string): Response {
  if (held && held.requestHash !== requestHash) {
    throw new AppError(
      "idempotency_key_reused",
      "This Idempotency-Key was used with a different request in the last 24 hours",
    );
  }
  if (held?.state === "done") return replay(held);
  throw new AppError(
    "idempotency_key_in_progress",
    "A request with this Idempotency-Key is still being processed; retry shortly",
  );
}

/**
 * `Idempotency-Key` on POSTs: the first request per tenant and key runs and its response (status
 * under 500, JSON) is kept for 24 h; a repeat with the same method, path and body gets that response
 * with `Idempotent-Replayed: true`; a different body is 422; a repeat while the first still runs is
 * 409 (`Retry-After: 1`). Exactly one request creates the resource: the claim is one D1 insert.
 */
export const idempotency = createMiddleware<AppEnv>(async (c, next) => {
  const key = c.req.header("Idempotency-Key");
  if (c.req.method !== "POST" || key === undefined) return next();
  if (!KEY_PATTERN.test(key))
    throw invalid("Idempotency-Key", "Idempotency-Key must be 1-255 visible ASCII characters");
  const principal = await principalOf(c);
  if (!principal) return next();
  const requestHash = await fingerprint(c);
  const now = Date.now();
  const userId = principal.userId;
  const claim = await claimIdempotencyKey(c.var.db, {
    userId,
    key,
    requestHash,
    now: new Date(now).toISOString(),
    expiresAt: new Date(now + RETENTION_MS).toISOString(),
  });
  if (!claim.won) {
    if (claim.held?.state !== "done" && claim.held?.requestHash === requestHash) c.header("Retry-After", "1");
    return answerHeld(claim.held, requestHash);
  }
  try {
    await next();
  } finally {
    const res = c.res;
    const contentType = res.headers.get("Content-Type");
    if (res.status < 500 && contentType?.startsWith("application/json")) {
      const body = await res.clone().text();
      await completeIdempotencyKey(c.var.db, userId, key, { status: res.status, body, contentType });
    } else {
      await releaseIdempotencyKey(c.var.db, userId, key);
    }
  }
});
