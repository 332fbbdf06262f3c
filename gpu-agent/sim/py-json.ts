/**
 * JSON as Python's `json.dumps` writes it (", " and ": " separators, non-ASCII escaped), which is what
 * ComfyUI sends. Only the binary preview metadata depends on it byte for byte (its length is framed).
 */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return asciiString(value);
  if (typeof value === "number") return pyNumber(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (Array.isArray(value)) return `[${value.map(pyJson).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    return `{${entries.map(([key, item]) => `${asciiString(key)}: ${pyJson(item)}`).join(", ")}}`;
  }
  return "null";
}

function pyNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  return String(value);
}

function asciiString(text: string): string {
  return JSON.stringify(text).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** A float as Python's `repr` prints it: `1.0`, not `1`. */
export function pyFloat(value: number): string {
  return Number.isInteger(value) ? `${value}.0` : String(value);
}

/** A list of strings as Python's `str(list)` prints it: `['a', 'b']`. */
export function pyStrList(items: readonly unknown[]): string {
  return `[${items.map((item) => (typeof item === "string" ? `'${item.replace(/'/g, "\\'")}'` : String(item))).join(", ")}]`;
}
