import { AppError, type ErrorDetail } from "../errors";

export type JsonObject = Record<string, unknown>;

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** Sets an own property even for keys such as `__proto__`, which plain assignment would not. */
export function put(target: JsonObject, key: string, value: unknown) {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export const has = (target: object, key: string) => Object.hasOwn(target, key);

/** Error bodies stay small: a graph with thousands of problems reports the first few. */
export const MAX_DETAILS = 50;

export function graphError(details: ErrorDetail[], message = "Invalid workflow graph"): AppError {
  return new AppError("validation_error", message, details.slice(0, MAX_DETAILS));
}

export const detail = (field: string, message: string, code = "INVALID_VALUE"): ErrorDetail => ({
  code,
  message,
  field,
});

/** 1 to `max` characters, none of them a control character. */
export function isPrintable(text: string, max: number) {
  if (text.length === 0 || text.length > max) return false;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return false;
  return true;
}
