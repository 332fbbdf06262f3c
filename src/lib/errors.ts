/** Every failure the API can report, with the HTTP status it maps to at the edge. */
export const errorStatus = {
  validation_error: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  run_failed: 422,
  idempotency_key_reused: 422,
  idempotency_key_in_progress: 409,
  rate_limit_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503,
  gateway_timeout: 504,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** `value`: the data behind a detail, as received (e.g. a failed run's error with ComfyUI's `node_errors`). */
export type ErrorDetail = { code: string; message: string; field?: string; value?: unknown };

/** A domain error: code and message for the client, never a stack. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = [],
    /** Fields another dialect expects beside the envelope (ComfyUI's `node_errors`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const notFound = (what: string) => new AppError("not_found", `${what} not found`);

export const invalid = (field: string, message: string, code = "INVALID_VALUE") =>
  new AppError("validation_error", message, [{ code, message, field }]);

export type ErrorBody = {
  error: ErrorCode;
  message: string;
  details: ErrorDetail[];
  timestamp: string;
  request_id: string;
};

export function errorBody(err: AppError, requestId: string): ErrorBody {
  return {
    ...err.extra,
    error: err.code,
    message: err.message,
    details: err.details,
    timestamp: new Date().toISOString(),
    request_id: requestId,
  };
}
