import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { type ErrorCode, errorStatus } from "./errors";
import { validationError } from "./validation";

export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
}

export const ErrorSchema = z
  .object({
    error: z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]).openapi({ example: "not_found" }),
    message: z.string().openapi({ example: "Run not found" }),
    details: z
      .array(
        z.object({
          code: z.string().openapi({ example: "REQUIRED_FIELD" }),
          message: z.string().openapi({ example: "Field 'deployment_id' is required" }),
          field: z.string().optional().openapi({ example: "deployment_id" }),
          value: z.unknown().optional().openapi({ description: "The data behind the detail, verbatim" }),
        }),
      )
      .openapi({ example: [] }),
    timestamp: z.string().openapi({ example: "2026-01-01T00:00:00.000Z" }),
    request_id: z.string().openapi({ example: "req_3f9a1c2b7d4e5f60" }),
  })
  .openapi("Error");

const errorDescriptions: Partial<Record<number, string>> = {
  400: "Invalid input: one detail per bad field",
  401: "Missing, malformed, expired or revoked credentials",
  403: "The credentials may not use this resource",
  404: "No such resource for this owner",
  409: "The resource is in a state that forbids this",
  410: "The resource has expired",
  413: "The body is larger than this route accepts",
  415: "The content type is not accepted here",
  422: "The run ended without succeeding",
  426: "The endpoint takes a WebSocket upgrade",
  429: "Rate limit exceeded (see `Retry-After`); authenticated routes count against the caller's limits",
  500: "Internal error (logged; no details leak)",
  503: "A dependency is unavailable",
  504: "Still running when the wait ended",
};

/** The error responses a route documents, in the one envelope every error uses. */
export function errorResponses(...statuses: number[]) {
  // Every authenticated route is rate limited.
  const all = [...new Set([...statuses, ...(statuses.includes(401) ? [429] : []), 500])];
  return Object.fromEntries(
    all.map((status) => [
      status,
      {
        description: errorDescriptions[status] ?? "Error",
        content: { "application/json": { schema: ErrorSchema } },
      },
    ]),
  );
}

export const authErrors = [401, 403] as const;

export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { "application/json": { schema } } };
}
