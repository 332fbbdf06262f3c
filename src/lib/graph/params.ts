import type { ApiGraph } from "../../protocol/graph";
import { isExternalInputNode } from "./external";
import type { ExplicitBinding } from "./inputs";

/**
 * Seed 003's task `params` as bindings. A key is either the input id of a ComfyDeploy external-input
 * node in the graph (bound as for a deployment), or `<node id>.<input name>`, which sets that literal
 * input of that node. Both go through the deployment input checks (unknown node or input, links, types).
 */
export function paramBindings(graph: ApiGraph, params: Record<string, unknown>): ExplicitBinding[] {
  const external = new Set(
    Object.values(graph)
      .filter(isExternalInputNode)
      .map((node) => String(node.inputs.input_id ?? "")),
  );
  return Object.keys(params)
    .filter((key) => !external.has(key) && key.lastIndexOf(".") > 0)
    .map((key) => {
      const at = key.lastIndexOf(".");
      return { input_id: key, node_id: key.slice(0, at), input_name: key.slice(at + 1) };
    });
}
