import type { z } from "zod";
import { AppError, type ErrorDetail } from "./errors";

/** One detail per bad field, in seed 004's vocabulary. */
export function zodIssuesToDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => {
    const field = issue.path.map(String).join(".");
    const missing = issue.code === "invalid_type" && /received undefined/.test(issue.message);
    const message = missing ? `Field '${field || "body"}' is required` : issue.message;
    return { code: missing ? "REQUIRED_FIELD" : "INVALID_VALUE", message, field: field || undefined };
  });
}

export function validationError(error: z.ZodError, target?: string): AppError {
  const where = target === "json" || target === undefined ? "request data" : `${target} parameters`;
  return new AppError("validation_error", `Invalid ${where}`, zodIssuesToDetails(error));
}

/** Parses with a zod schema and throws the uniform validation error on failure. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, target?: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, target);
  return result.data;
}
