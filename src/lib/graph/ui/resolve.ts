import {
  MODE_BYPASS,
  SUBGRAPH_INPUT_NODE,
  SUBGRAPH_OUTPUT_NODE,
  type UiDocument,
  type UiGraph,
  type UiNode,
} from "./document";

/** One graph level being converted; a subgraph's scope knows the node that instantiates it. */
export type Scope = { graph: UiGraph; prefix: string; parent?: { scope: Scope; node: UiNode } };

/** Where an input's value comes from: another node's output, or a value the editor pushes in. */
export type Source = { link: [string, number] } | { value: unknown };

export const REROUTE = "Reroute";
export const PRIMITIVE = "PrimitiveNode";

/** Links through more frontend-only nodes than this are taken as a loop. */
const MAX_HOPS = 1000;

export class LoopError extends Error {}

/** Types as the editor matches them: equal, either is "*", or comma lists that share a type. */
function typesMatch(a: unknown, b: unknown) {
  if (a === "*" || b === "*" || a === b) return true;
  if (typeof a !== "string" || typeof b !== "string") return false;
  const left = new Set(a.split(","));
  return b.split(",").some((type) => left.has(type));
}

/** The input a bypassed node passes to its output `slot`: same index when the type fits, else the first that fits. */
function bypassInput(node: UiNode, slot: number) {
  const type = node.outputTypes[slot];
  if (type === "*") return node.inputs.length > slot ? slot : 0;
  const same = node.inputs[slot];
  if (same && typesMatch(same.type, type)) return slot;
  const exact = node.inputs.findIndex((input) => input.type === type);
  return exact >= 0 ? exact : node.inputs.findIndex((input) => typesMatch(input.type, type));
}

export const nodeId = (scope: Scope, node: UiNode) => `${scope.prefix}${node.id}`;

/** The value of a subgraph node's own (promoted) widget for its input `slot`, if it has one. */
function subgraphWidgetValue(node: UiNode, slot: number): Source | undefined {
  const input = node.inputs[slot];
  if (!input?.widget || !Array.isArray(node.widgets_values)) return undefined;
  const index = node.inputs.filter((i) => i.widget).indexOf(input);
  return index < node.widgets_values.length ? { value: node.widgets_values[index] } : undefined;
}

export class Resolver {
  constructor(private readonly document: UiDocument) {}

  subgraphOf(node: UiNode) {
    return this.document.subgraphs.get(node.type);
  }

  /** What feeds input `slot` of `node`, looking through reroutes, bypassed nodes and subgraph borders. */
  input(scope: Scope, node: UiNode, slot: number, hops = 0): Source | undefined {
    if (hops > MAX_HOPS) throw new LoopError();
    const linkId = node.inputs[slot]?.link;
    const link = linkId === undefined || linkId === null ? undefined : scope.graph.links.get(linkId);
    if (!link) return undefined;
    if (link.origin_id === SUBGRAPH_INPUT_NODE) {
      const parent = scope.parent;
      if (!parent) return undefined;
      return (
        this.input(parent.scope, parent.node, link.origin_slot, hops + 1) ??
        subgraphWidgetValue(parent.node, link.origin_slot)
      );
    }
    const origin = scope.graph.nodes.get(link.origin_id);
    return origin ? this.output(scope, origin, link.origin_slot, hops + 1) : undefined;
  }

  /** What output `slot` of `node` stands for once frontend-only nodes and subgraphs are taken away. */
  output(scope: Scope, node: UiNode, slot: number, hops: number): Source | undefined {
    if (hops > MAX_HOPS) throw new LoopError();
    if (node.type === REROUTE) return this.input(scope, node, 0, hops);
    if (node.type === PRIMITIVE) {
      const values = node.widgets_values;
      return Array.isArray(values) && values.length > 0 ? { value: values[0] } : undefined;
    }
    if (node.mode === MODE_BYPASS) {
      const index = bypassInput(node, slot);
      return index >= 0 ? this.input(scope, node, index, hops) : undefined;
    }
    const subgraph = this.subgraphOf(node);
    if (!subgraph) return { link: [nodeId(scope, node), slot] };
    const inner: Scope = { graph: subgraph, prefix: `${nodeId(scope, node)}:`, parent: { scope, node } };
    for (const link of subgraph.links.values()) {
      if (link.target_id !== SUBGRAPH_OUTPUT_NODE || link.target_slot !== slot) continue;
      if (link.origin_id === SUBGRAPH_INPUT_NODE) return this.input(scope, node, link.origin_slot, hops + 1);
      const origin = subgraph.nodes.get(link.origin_id);
      return origin ? this.output(inner, origin, link.origin_slot, hops + 1) : undefined;
    }
    return undefined;
  }
}
