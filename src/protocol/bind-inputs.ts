import { type ApiGraph, type ApiNode, type InputBinding, isNodeLink } from "./graph";

/** A run input that cannot be resolved, fetched or bound; the run fails with `input_error`. */
export class InputError extends Error {
  override name = "InputError";
}

/**
 * Returns a copy of the graph with every bound value written in (file inputs as their uploaded ComfyUI
 * names) and every ComfyDeploy external-input node lowered to stock ComfyUI nodes.
 */
export function bindInputs(
  graph: ApiGraph,
  bindings: InputBinding[],
  values: Map<string, unknown>,
): ApiGraph {
  const bound = structuredClone(graph);
  for (const binding of bindings) {
    const node = bound[binding.node_id];
    if (!node) {
      throw new InputError(
        `input "${binding.input_id}" is bound to node ${binding.node_id}, which the graph lacks`,
      );
    }
    const hasValue = values.has(binding.input_id);
    const value = values.get(binding.input_id);
    if (binding.binding === "node_input") {
      if (hasValue) node.inputs[binding.input_name] = value;
    } else if (binding.type === "image" && hasValue) {
      bound[binding.node_id] = { class_type: "LoadImage", inputs: { image: value }, _meta: node._meta };
    } else if (hasValue) {
      replaceLinks(bound, binding.node_id, () => value);
      delete bound[binding.node_id];
    } else if (isNodeLink(node.inputs.default_value)) {
      // The external node passes through whatever feeds its default; consumers read that directly.
      const upstream = node.inputs.default_value;
      replaceLinks(bound, binding.node_id, () => [...upstream]);
      delete bound[binding.node_id];
    } else {
      throw new InputError(`input "${binding.input_id}" has no value and no default`);
    }
  }
  return bound;
}

/** Rewrites every input that links to `nodeId` (any output) with `replacement()`. */
function replaceLinks(graph: ApiGraph, nodeId: string, replacement: () => unknown) {
  for (const [id, node] of Object.entries(graph) as [string, ApiNode][]) {
    if (id === nodeId) continue;
    for (const [name, input] of Object.entries(node.inputs)) {
      if (isNodeLink(input) && input[0] === nodeId) node.inputs[name] = replacement();
    }
  }
}
