import { isObject, type JsonObject } from "../util";

/** An input socket of a UI node; `widget` marks a widget that can also take a link. */
export type UiSlot = { name: string; type?: unknown; link?: number | null; widget?: { name?: string } };

export type UiNode = {
  id: string;
  type: string;
  mode: number;
  title?: string;
  inputs: UiSlot[];
  outputTypes: unknown[];
  widgets_values?: unknown;
};

export type UiLink = { origin_id: string; origin_slot: number; target_id: string; target_slot: number };

/** One graph level: the document's root or a subgraph definition. */
export type UiGraph = { nodes: Map<string, UiNode>; links: Map<number, UiLink> };

export type UiDocument = { root: UiGraph; subgraphs: Map<string, UiGraph> };

/** Node modes: 2 is "never" (muted), 4 is "bypass". */
export const MODE_MUTED = 2;
export const MODE_BYPASS = 4;
/** A subgraph's own input and output nodes, as its links name them. */
export const SUBGRAPH_INPUT_NODE = "-10";
export const SUBGRAPH_OUTPUT_NODE = "-20";

/** Links come as `[id, origin, origin_slot, target, target_slot, type]` or as objects (schema 1, subgraphs). */
function readLink(raw: unknown): [number, UiLink] | undefined {
  if (Array.isArray(raw) && raw.length >= 5) {
    const [id, origin, originSlot, target, targetSlot] = raw;
    return [Number(id), link(origin, originSlot, target, targetSlot)];
  }
  if (!isObject(raw)) return undefined;
  return [Number(raw.id), link(raw.origin_id, raw.origin_slot, raw.target_id, raw.target_slot)];
}

const link = (origin: unknown, originSlot: unknown, target: unknown, targetSlot: unknown): UiLink => ({
  origin_id: String(origin),
  origin_slot: Number(originSlot),
  target_id: String(target),
  target_slot: Number(targetSlot),
});

function readSlot(raw: unknown): UiSlot | undefined {
  if (!isObject(raw) || typeof raw.name !== "string") return undefined;
  const slot: UiSlot = { name: raw.name, type: raw.type };
  if (typeof raw.link === "number") slot.link = raw.link;
  if (isObject(raw.widget))
    slot.widget = { name: typeof raw.widget.name === "string" ? raw.widget.name : raw.name };
  return slot;
}

function readNode(raw: unknown): UiNode | undefined {
  if (!isObject(raw) || (typeof raw.id !== "number" && typeof raw.id !== "string")) return undefined;
  if (typeof raw.type !== "string") return undefined;
  const node: UiNode = {
    id: String(raw.id),
    type: raw.type,
    mode: typeof raw.mode === "number" ? raw.mode : 0,
    inputs: Array.isArray(raw.inputs) ? raw.inputs.flatMap((slot) => readSlot(slot) ?? []) : [],
    outputTypes: Array.isArray(raw.outputs) ? raw.outputs.map((o) => (isObject(o) ? o.type : undefined)) : [],
    widgets_values: raw.widgets_values,
  };
  if (typeof raw.title === "string") node.title = raw.title;
  return node;
}

function readGraph(raw: JsonObject): UiGraph {
  const nodes = new Map<string, UiNode>();
  for (const item of Array.isArray(raw.nodes) ? raw.nodes : []) {
    const node = readNode(item);
    if (node) nodes.set(node.id, node);
  }
  const links = new Map<number, UiLink>();
  for (const item of Array.isArray(raw.links) ? raw.links : []) {
    const entry = readLink(item);
    if (entry) links.set(...entry);
  }
  return { nodes, links };
}

/** Reads a UI-format document: its root graph and the subgraph definitions (`definitions.subgraphs`). */
export function readDocument(raw: JsonObject): UiDocument {
  const subgraphs = new Map<string, UiGraph>();
  const definitions = isObject(raw.definitions) ? raw.definitions.subgraphs : undefined;
  for (const item of Array.isArray(definitions) ? definitions : []) {
    if (isObject(item) && typeof item.id === "string") subgraphs.set(item.id, readGraph(item));
  }
  return { root: readGraph(raw), subgraphs };
}
