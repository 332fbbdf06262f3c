import type { ApiGraph, ApiNode } from "../../../protocol/graph";
import { AppError } from "../../errors";
import { detail, has, type JsonObject, put } from "../util";
import type { NodeDefinitions } from "./definitions";
import { MODE_BYPASS, MODE_MUTED, readDocument, type UiDocument, type UiNode } from "./document";
import { LoopError, nodeId, PRIMITIVE, REROUTE, Resolver, type Scope } from "./resolve";
import { widgetValues, wrapValue } from "./widgets";

/** Nodes that live only in the editor: they never reach ComfyUI. */
const FRONTEND_ONLY = new Set([REROUTE, PRIMITIVE, "Note", "MarkdownNote"]);

/** Group nodes (the editor's older "workflow>Name" nodes) predate subgraphs. */
const isGroupNode = (type: string) => type.startsWith("workflow>") || type.startsWith("workflow/");

export function conversionError(id: string, type: string, reason: string, field = "workflow") {
  const message = `Node ${id} (${type}): ${reason}`;
  return new AppError("validation_error", "The UI-format workflow cannot be converted", [
    detail(`${field}.nodes.${id}`, message, "UNCONVERTIBLE_NODE"),
  ]);
}

class Converter {
  readonly graph: ApiGraph = {};
  private readonly resolver: Resolver;

  constructor(
    document: UiDocument,
    private readonly definitions: NodeDefinitions,
    private readonly field: string,
  ) {
    this.resolver = new Resolver(document);
  }

  /** Converts one graph level; `within` holds the subgraphs it sits in, so one cannot contain itself. */
  scope(scope: Scope, within: ReadonlySet<string> = new Set()) {
    for (const node of scope.graph.nodes.values()) {
      if (FRONTEND_ONLY.has(node.type) || node.mode === MODE_MUTED || node.mode === MODE_BYPASS) continue;
      const subgraph = this.resolver.subgraphOf(node);
      if (subgraph) {
        if (within.has(node.type)) throw this.fail(scope, node, "this subgraph contains itself");
        const inner = { graph: subgraph, prefix: `${nodeId(scope, node)}:`, parent: { scope, node } };
        this.scope(inner, new Set([...within, node.type]));
        continue;
      }
      put(this.graph, nodeId(scope, node), this.node(scope, node));
    }
  }

  private fail(scope: Scope, node: UiNode, reason: string) {
    return conversionError(nodeId(scope, node), node.type, reason, this.field);
  }

  private node(scope: Scope, node: UiNode): ApiNode {
    if (isGroupNode(node.type)) {
      throw this.fail(
        scope,
        node,
        "group nodes are not converted; turn the group node into a subgraph in ComfyUI",
      );
    }
    const definition = has(this.definitions, node.type) ? this.definitions[node.type] : undefined;
    if (!definition) throw this.fail(scope, node, "no machine of this pool reports this node class");
    const inputs = widgetValues(node.widgets_values, definition);
    if (typeof inputs === "string") throw this.fail(scope, node, inputs);
    for (const [index, slot] of node.inputs.entries()) this.link(scope, node, index, slot.name, inputs);
    return {
      class_type: node.type,
      inputs,
      _meta: { title: node.title ?? definition.display_name ?? node.type },
    };
  }

  private link(scope: Scope, node: UiNode, index: number, name: string, inputs: JsonObject) {
    let source: ReturnType<Resolver["input"]>;
    try {
      source = this.resolver.input(scope, node, index);
    } catch (error) {
      if (error instanceof LoopError) throw this.fail(scope, node, `input '${name}' is linked in a loop`);
      throw error;
    }
    if (!source) return;
    put(inputs, name, "link" in source ? source.link : wrapValue(source.value));
  }
}

/** Drops links to nodes that were not converted (muted ones), as the editor does. */
function dropDanglingLinks(graph: ApiGraph) {
  for (const node of Object.values(graph)) {
    for (const [name, value] of Object.entries(node.inputs)) {
      if (
        Array.isArray(value) &&
        value.length === 2 &&
        typeof value[0] === "string" &&
        !has(graph, value[0])
      ) {
        delete node.inputs[name];
      }
    }
  }
}

/**
 * ComfyUI's UI format → its API format, as the editor's graph-to-prompt does it with the node
 * definitions `definitions`. Throws a validation error naming the node and reason when it cannot.
 */
export function uiToApi(document: JsonObject, definitions: NodeDefinitions, field = "workflow"): ApiGraph {
  const parsed = readDocument(document);
  const converter = new Converter(parsed, definitions, field);
  converter.scope({ graph: parsed.root, prefix: "" });
  dropDanglingLinks(converter.graph);
  return converter.graph;
}
