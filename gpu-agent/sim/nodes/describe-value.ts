import { pyJson } from "../py-json";

/** A value as Python's `str()` would roughly show it; pictures and other tensors by their shape only. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "True" : "False";
  if (value === null || value === undefined) return "None";
  if (Array.isArray(value) && value.every(isPicture)) {
    const first = value[0];
    return `tensor(shape=[${value.length}, ${first?.height ?? 0}, ${first?.width ?? 0}, 3])`;
  }
  if (typeof value === "object" && "values" in value && value.values instanceof Float32Array) {
    return `tensor(shape=[1, ${"height" in value ? value.height : 0}, ${"width" in value ? value.width : 0}])`;
  }
  return pyJson(value);
}

function isPicture(item: unknown): item is { width: number; height: number } {
  return typeof item === "object" && item !== null && "rgb" in item && item.rgb instanceof Uint8Array;
}
