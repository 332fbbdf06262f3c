import { type ApiGraph, isNodeLink } from "../../../src/protocol/graph";

/** The input that ties each output node to one prompt. No ComfyUI node declares it. */
export const PROMPT_MARK = "comfy_edge_prompt";

/**
 * ComfyUI answers a node from its cache when the node's class and inputs match the previous prompt's.
 * A cached output node names the files that earlier prompt wrote, and the agent removed those files
 * after uploading them. ComfyUI skips an input that no node declares when it validates and runs a
 * node, but the input still counts in the cache key. So each output node gets this prompt's id: the
 * output nodes write their own files again, and the nodes before them (loaded models, sampled
 * latents) still come from the cache.
 *
 * `outputNodes` are the classes ComfyUI's /object_info calls output nodes. If it could not be read, the
 * graph's sinks (nodes whose outputs no other node uses) are marked instead.
 */
export function markOutputNodes(
  graph: ApiGraph,
  promptId: string,
  outputNodes: ReadonlySet<string> | undefined,
): ApiGraph {
  const isOutput = outputNodes
    ? (id: string) => outputNodes.has(graph[id]?.class_type ?? "")
    : sinksOf(graph);
  return Object.fromEntries(
    Object.entries(graph).map(([id, node]) => [
      id,
      isOutput(id) ? { ...node, inputs: { ...node.inputs, [PROMPT_MARK]: promptId } } : node,
    ]),
  );
}

/** The classes of ComfyUI's /object_info that are output nodes. */
export function outputNodeClasses(definitions: Record<string, unknown>): Set<string> {
  return new Set(
    Object.entries(definitions)
      .filter(([, definition]) => (definition as { output_node?: unknown } | null)?.output_node === true)
      .map(([name]) => name),
  );
}

function sinksOf(graph: ApiGraph): (id: string) => boolean {
  const used = new Set<string>();
  for (const node of Object.values(graph)) {
    for (const value of Object.values(node.inputs)) if (isNodeLink(value)) used.add(value[0]);
  }
  return (id) => !used.has(id);
}
