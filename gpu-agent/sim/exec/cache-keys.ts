import { createHash } from "node:crypto";
import type { FileStore } from "../files";
import type { NodeDefinition } from "../nodes/types";
import type { PromptGraph } from "../queue";

/** ComfyUI's `is_link`: `[node_id: string, output_index: int]`. */
export function isLink(value: unknown): value is [string, number] {
  return (
    Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && Number.isInteger(value[1])
  );
}

/**
 * Each node's cache key: its class, IS_CHANGED value, widget values and the keys of what feeds it (like
 * ComfyUI's input signature). Equal keys mean equal results, whatever the node ids.
 */
export function cacheKeys(
  prompt: PromptGraph,
  catalog: ReadonlyMap<string, NodeDefinition>,
  files: FileStore,
): Map<string, string> {
  const keys = new Map<string, string>();
  const keyOf = (id: string): string => {
    const known = keys.get(id);
    if (known) return known;
    keys.set(id, `cycle:${id}`); // a placeholder so that a cycle ends here instead of recursing forever
    const node = prompt[id];
    if (!node) return `missing:${id}`;
    const inputs = Object.keys(node.inputs)
      .sort()
      .map((name) => {
        const value = node.inputs[name];
        return isLink(value) ? [name, "link", keyOf(value[0]), value[1]] : [name, value];
      });
    const changed = catalog.get(node.class_type)?.isChanged?.(node.inputs, files) ?? null;
    const key = createHash("sha256")
      .update(JSON.stringify([node.class_type, changed, inputs]))
      .digest("hex");
    keys.set(id, key);
    return key;
  };
  for (const id of Object.keys(prompt)) keyOf(id);
  return keys;
}
