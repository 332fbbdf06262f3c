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
 * `definitions` is ComfyUI's /object_info, which says which classes are output nodes. If it could not
 * be read, the graph's sinks (nodes whose outputs no other node uses) are marked instead.
 */
export function markOutputNodes(
  graph: ApiGraph,
  promptId: string,
  definitions: Record<string, unknown> | undefined,
): ApiGraph {
  const isOutput = definitions ? (id: string) => declaresOutput(definitions, graph, id) : sinksOf(graph);
  return Object.fromEntries(
    Object.entries(graph).map(([id, node]) => [
      id,
      isOutput(id) ? { ...node, inputs: { ...node.inputs, [PROMPT_MARK]: promptId } } : node,
    ]),
  );
}

function declaresOutput(definitions: Record<string, unknown>, graph: ApiGraph, id: string): boolean {
  const definition = definitions[graph[id]?.class_type ?? ""];
  return (definition as { output_node?: unknown } | null | undefined)?.output_node === true;
}

function sinksOf(graph: ApiGraph): (id: string) => boolean {
  const used = new Set<string>();
  for (const node of Object.values(graph)) {
    for (const value of Object.values(node.inputs)) if (isNodeLink(value)) used.add(value[0]);
  }
  return (id) => !used.has(id);
}
