import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../env";
import { AppError, type ErrorCode, errorBody, errorStatus } from "../lib/errors";

const codeForStatus: Partial<Record<number, ErrorCode>> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "payload_too_large",
  415: "unsupported_media_type",
  429: "rate_limit_exceeded",
  503: "service_unavailable",
};

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    const code = codeForStatus[err.status] ?? "internal_error";
    return new AppError(code, code === "internal_error" ? "Internal server error" : err.message);
  }
  return new AppError("internal_error", "Internal server error");
}

export function handleError(err: unknown, c: Context<AppEnv>) {
  const appError = toAppError(err);
  const requestId = c.get("requestId") ?? "unknown";
  if (appError.code === "internal_error") {
    console.error(JSON.stringify({ request_id: requestId, path: c.req.path, error: String(err) }), err);
  }
  return c.json(errorBody(appError, requestId), errorStatus[appError.code] as ContentfulStatusCode);
}

export function handleNotFound(c: Context<AppEnv>) {
  return handleError(new AppError("not_found", `No route for ${c.req.method} ${c.req.path}`), c);
}
