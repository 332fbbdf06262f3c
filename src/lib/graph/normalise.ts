import type { ApiGraph, ApiNode } from "../../protocol/graph";
import type { ErrorDetail } from "../errors";
import { detail, graphError, has, isObject, isPrintable, type JsonObject, put } from "./util";
import { validateGraph } from "./validate";

export type GraphFormat = "api" | "typed_list" | "ui" | "invalid";

const MAX_ID_LENGTH = 128;

/**
 * Tells the graph forms apart: ComfyUI's API format (`{"3": {class_type, inputs}}`), seed 004's typed
 * list (`{nodes: {"3": {class_type, inputs: [{name, type, value}]}}}`) and ComfyUI's UI format
 * (`{nodes: [...], links: [...]}`, which cannot run without the node definitions of a live ComfyUI).
 */
export function graphFormat(input: unknown): GraphFormat {
  if (!isObject(input)) return "invalid";
  const nodes = input.nodes;
  if (Array.isArray(nodes)) {
    const typed = nodes.length > 0 && nodes.every((n) => isObject(n) && typeof n.class_type === "string");
    return typed ? "typed_list" : "ui";
  }
  if (isObject(nodes) && !has(nodes, "class_type")) return "typed_list";
  return "api";
}

/**
 * Turns an API-format or typed-list graph into the API format and validates it. Throws the uniform
 * validation error with one detail per problem, each naming its field (`workflow_api.3.inputs.model`).
 */
export function normaliseGraph(input: unknown, field = "workflow_api"): ApiGraph {
  if (input === undefined || input === null) {
    throw graphError([detail(field, `Field '${field}' is required`, "REQUIRED_FIELD")]);
  }
  const format = graphFormat(input);
  if (format === "invalid") {
    throw graphError([detail(field, "A graph must be a JSON object of node id to node")]);
  }
  if (format === "ui") {
    const message =
      "This is ComfyUI's UI format, which cannot run as is; send the API format (ComfyUI: Workflow → Export (API))";
    throw graphError([detail(field, message, "UNSUPPORTED_FORMAT")]);
  }
  const { graph, details } =
    format === "typed_list"
      ? fromTypedList(input as JsonObject, field)
      : fromApiFormat(input as JsonObject, field);
  if (details.length === 0 && Object.keys(graph).length === 0) {
    details.push(detail(field, "A graph needs at least one node"));
  }
  if (details.length === 0) details.push(...validateGraph(graph, field));
  if (details.length > 0) throw graphError(details);
  return graph;
}

function checkId(id: string, path: string, details: ErrorDetail[]): boolean {
  if (!isPrintable(id, MAX_ID_LENGTH)) {
    details.push(detail(path, `Node ids must be 1-${MAX_ID_LENGTH} printable characters`));
    return false;
  }
  return true;
}

function convertNode(
  raw: unknown,
  path: string,
  details: ErrorDetail[],
  inputs: (raw: JsonObject) => JsonObject | undefined,
): ApiNode | undefined {
  if (!isObject(raw)) {
    details.push(detail(path, "A node must be an object with class_type and inputs"));
    return undefined;
  }
  const classType = raw.class_type;
  if (typeof classType !== "string" || classType.trim() === "") {
    const missing = classType === undefined;
    const message = missing ? "Field 'class_type' is required" : "class_type must be a non-empty string";
    details.push(detail(`${path}.class_type`, message, missing ? "REQUIRED_FIELD" : "INVALID_VALUE"));
    return undefined;
  }
  const meta = raw._meta;
  if (
    meta !== undefined &&
    !(isObject(meta) && (meta.title === undefined || typeof meta.title === "string"))
  ) {
    details.push(detail(`${path}._meta`, "_meta must be an object whose title is a string"));
    return undefined;
  }
  const converted = inputs(raw);
  if (!converted) return undefined;
  const node: ApiNode = { class_type: classType, inputs: converted };
  if (meta !== undefined) node._meta = meta as ApiNode["_meta"];
  return node;
}

function fromApiFormat(doc: JsonObject, field: string) {
  const details: ErrorDetail[] = [];
  const graph: ApiGraph = {};
  for (const [id, raw] of Object.entries(doc)) {
    const path = `${field}.${id}`;
    if (!checkId(id, path, details)) continue;
    const node = convertNode(raw, path, details, (n) => {
      if (n.inputs === undefined) return {};
      if (isObject(n.inputs)) return n.inputs;
      details.push(detail(`${path}.inputs`, "inputs must be an object of input name to value or link"));
      return undefined;
    });
    if (node) put(graph, id, node);
  }
  return { graph, details };
}

function fromTypedList(doc: JsonObject, field: string) {
  const details: ErrorDetail[] = [];
  const graph: ApiGraph = {};
  const entries: [string, unknown][] = [];
  if (Array.isArray(doc.nodes)) {
    doc.nodes.forEach((raw, index) => {
      const id = isObject(raw) ? raw.id : undefined;
      if (typeof id === "string") entries.push([id, raw]);
      else details.push(detail(`${field}.nodes.${index}.id`, 'Node ids are strings, e.g. "3"'));
    });
  } else {
    entries.push(...Object.entries(doc.nodes as JsonObject));
  }
  for (const [id, raw] of entries) {
    const path = `${field}.nodes.${id}`;
    if (!checkId(id, path, details)) continue;
    if (isObject(raw) && raw.id !== undefined && raw.id !== id) {
      const message =
        typeof raw.id === "string" ? `id '${raw.id}' differs from its key '${id}'` : "Node ids are strings";
      details.push(detail(`${path}.id`, message));
      continue;
    }
    if (has(graph, id)) {
      details.push(detail(`${path}.id`, `Duplicate node id '${id}'`));
      continue;
    }
    const node = convertNode(raw, path, details, (n) => typedInputs(n.inputs, `${path}.inputs`, details));
    if (node) put(graph, id, node);
  }
  return { graph, details };
}

/** `[{name, type, value, required}]` → `{name: value}`; an object is taken as already converted. */
function typedInputs(raw: unknown, path: string, details: ErrorDetail[]): JsonObject | undefined {
  if (raw === undefined) return {};
  if (isObject(raw)) return raw;
  if (!Array.isArray(raw)) {
    details.push(detail(path, "inputs must be a list of {name, type, value, required}"));
    return undefined;
  }
  const inputs: JsonObject = {};
  let ok = true;
  raw.forEach((item, index) => {
    const name = isObject(item) ? item.name : undefined;
    if (!isObject(item) || typeof name !== "string" || name === "") {
      details.push(
        detail(`${path}.${index}.name`, "Each input needs a non-empty string name", "REQUIRED_FIELD"),
      );
      ok = false;
      return;
    }
    if (has(inputs, name)) {
      details.push(detail(`${path}.${index}.name`, `Duplicate input '${name}'`));
      ok = false;
      return;
    }
    if (item.value === undefined) {
      if (item.required === true) {
        details.push(detail(`${path}.${index}.value`, `Input '${name}' is required`, "REQUIRED_FIELD"));
        ok = false;
      }
      return;
    }
    put(inputs, name, item.value);
  });
  return ok ? inputs : undefined;
}
