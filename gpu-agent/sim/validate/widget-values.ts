import { describeValue } from "../nodes/describe-value";

/**
 * Python's conversions of a widget value (`int(val)`, `float(val)`, `str(val)`, `bool(val)`), which
 * ComfyUI applies before range checks. Throws a Python-worded message when the conversion fails.
 */
export function convertWidget(type: string, value: unknown): unknown {
  switch (type) {
    case "INT":
      return toInt(value);
    case "FLOAT":
      return toFloat(value);
    case "STRING":
      return describeValue(value);
    case "BOOLEAN":
      return toBool(value);
    default:
      return value;
  }
}

function toInt(value: unknown): number {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") {
    if (Number.isNaN(value)) throw new Error("cannot convert float NaN to integer");
    if (!Number.isFinite(value)) throw new Error("cannot convert float infinity to integer");
    return Math.trunc(value);
  }
  if (typeof value === "string") {
    const text = value.trim().replaceAll("_", "");
    if (/^[+-]?\d+$/.test(text)) return Number.parseInt(text, 10);
    throw new Error(`invalid literal for int() with base 10: '${value}'`);
  }
  throw new Error(
    `int() argument must be a string, a bytes-like object or a real number, not '${pyType(value)}'`,
  );
}

function toFloat(value: unknown): number {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const text = value.trim().toLowerCase();
    if (/^[+-]?(inf|infinity)$/.test(text)) return text.startsWith("-") ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(text)) return Number.NaN;
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(text)) return Number.parseFloat(text);
    throw new Error(`could not convert string to float: '${value}'`);
  }
  throw new Error(`float() argument must be a string or a real number, not '${pyType(value)}'`);
}

function toBool(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === "object") return Object.keys(value).length > 0;
  return Boolean(value);
}

function pyType(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (Array.isArray(value)) return "list";
  return typeof value === "object" ? "dict" : typeof value;
}
