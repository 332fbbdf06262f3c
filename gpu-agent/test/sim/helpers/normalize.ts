/**
 * Makes a recorded and a simulated value comparable: ids, client ids and timestamps differ between
 * runs, as do the random letters in PreviewImage's temp names and the prompt's queue number.
 */
export function normalize(value: unknown, ids: Record<string, string>): unknown {
  if (typeof value === "string") {
    return ids[value] ?? value.replace(/^ComfyUI_temp_[a-z]{5}_/, "ComfyUI_temp_?????_");
  }
  if (Array.isArray(value)) return value.map((item) => normalize(item, ids));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, key === "timestamp" ? 0 : normalize(item, ids)]),
    );
  }
  return value;
}

/** A history entry with its queue number zeroed, then normalized. */
export function normalizeHistory(entry: unknown, ids: Record<string, string>): unknown {
  const copy = structuredClone(entry) as { prompt: unknown[] };
  copy.prompt[0] = 0;
  return normalize(copy, ids);
}
