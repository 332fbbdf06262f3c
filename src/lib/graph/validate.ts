import { type ApiGraph, isNodeLink } from "../../protocol/graph";
import type { ErrorDetail } from "../errors";
import { isExternalInputNode } from "./external";
import { detail, has, isPrintable } from "./util";

/**
 * Checks an API-format graph: every link points at an existing node with a string id and a valid
 * output index, no node depends on its own output, and every ComfyDeploy external-input node has a
 * unique `input_id`. Returns one detail per problem; empty means valid.
 */
export function validateGraph(graph: ApiGraph, field = "workflow_api"): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const inputIds = new Map<string, string>();
  for (const [id, node] of Object.entries(graph)) {
    for (const [name, value] of Object.entries(node.inputs)) {
      const problem = linkProblem(graph, value);
      if (problem) details.push(detail(`${field}.${id}.inputs.${name}`, problem, "INVALID_LINK"));
    }
    if (!isExternalInputNode(node)) continue;
    const inputId = node.inputs.input_id;
    const path = `${field}.${id}.inputs.input_id`;
    if (typeof inputId !== "string" || !isPrintable(inputId, 128)) {
      details.push(detail(path, `${node.class_type} needs an input_id: a string of 1-128 characters`));
      continue;
    }
    const other = inputIds.get(inputId);
    if (other !== undefined)
      details.push(detail(path, `input_id '${inputId}' is also used by node '${other}'`));
    else inputIds.set(inputId, id);
  }
  if (details.length > 0) return details;
  const cycle = findCycle(graph);
  if (cycle) {
    const message = `Cycle: ${cycle.path.join(" → ")}; a node cannot depend on its own output`;
    details.push(detail(`${field}.${cycle.from}.inputs.${cycle.input}`, message, "CYCLE"));
  }
  return details;
}

function linkProblem(graph: ApiGraph, value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [target, index] = value;
  if (isNodeLink(value)) {
    return has(graph, target) ? undefined : `Links to node '${target}', which does not exist`;
  }
  if (typeof target === "number" && typeof index === "number" && has(graph, String(target))) {
    return `Node ids in links are strings: write ["${target}", ${index}]`;
  }
  if (typeof target === "string" && typeof index === "number") {
    return `Output index must be a non-negative integer, got ${index}`;
  }
  return undefined;
}

/** Finds one cycle with an iterative depth-first search (deep chains must not overflow the stack). */
export function findCycle(graph: ApiGraph): { from: string; input: string; path: string[] } | undefined {
  const state = new Map<string, "open" | "done">();
  const edges = (id: string): [string, string][] =>
    Object.entries(graph[id]?.inputs ?? {}).flatMap(([name, value]): [string, string][] =>
      isNodeLink(value) && has(graph, value[0]) ? [[name, value[0]]] : [],
    );
  for (const start of Object.keys(graph)) {
    if (state.has(start)) continue;
    const stack = [{ id: start, edges: edges(start), next: 0 }];
    state.set(start, "open");
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const edge = top.edges[top.next++];
      if (!edge) {
        state.set(top.id, "done");
        stack.pop();
        continue;
      }
      const [input, target] = edge;
      const seen = state.get(target);
      if (seen === "open") {
        const ids = stack.map((frame) => frame.id);
        return { from: top.id, input, path: [...ids.slice(ids.indexOf(target)), target] };
      }
      if (seen === undefined) {
        state.set(target, "open");
        stack.push({ id: target, edges: edges(target), next: 0 });
      }
    }
  }
  return undefined;
}
