import { type ApiGraph, type InputBinding, type InputType, isNodeLink } from "../../protocol/graph";
import { AppError, type ErrorDetail } from "../errors";
import { externalBinding, isExternalInputNode, typeOfValue } from "./external";
import { detail, has, isObject, MAX_DETAILS, put } from "./util";

/** A deployment's own binding: a run input written into `graph[node_id].inputs[input_name]`. */
export type ExplicitBinding = {
  input_id: string;
  node_id: string;
  input_name: string;
  type?: InputType;
  default?: unknown;
  required?: boolean;
  description?: string;
  enum_values?: string[];
  min?: number;
  max?: number;
};

/** Loader nodes whose file-name input is better bound as an uploaded file than as a plain string. */
const FILE_INPUTS: Record<string, InputType> = {
  "LoadImage.image": "image",
  "LoadImageMask.image": "image",
  "LoadVideo.file": "file",
  "VHS_LoadVideo.video": "file",
  "LoadAudio.audio": "file",
};

/**
 * The input spec of a graph: one entry per ComfyDeploy external-input node, then one per explicit
 * binding. Explicit bindings must name an existing node and one of its literal (not linked) inputs,
 * and must not reuse an input id. Throws the uniform validation error with fields `inputs.<i>.<key>`.
 */
export function deriveInputSpec(graph: ApiGraph, explicit: ExplicitBinding[] = [], field = "inputs") {
  const spec: InputBinding[] = [];
  for (const [id, node] of Object.entries(graph)) {
    if (isExternalInputNode(node)) spec.push(externalBinding(id, node));
  }
  const details: ErrorDetail[] = [];
  const ids = new Map(spec.map((b) => [b.input_id, `external node '${b.node_id}'`]));
  explicit.forEach((b, index) => {
    const path = `${field}.${index}`;
    const taken = ids.get(b.input_id);
    if (!taken) ids.set(b.input_id, path);
    const result = taken
      ? detail(`${path}.input_id`, `input_id '${b.input_id}' is already bound by ${taken}`)
      : explicitBinding(graph, b, path);
    if ("binding" in result) spec.push(result);
    else details.push(result);
  });
  if (details.length > 0) throw new AppError("validation_error", "Invalid input bindings", details);
  return spec;
}

function explicitBinding(graph: ApiGraph, b: ExplicitBinding, path: string): InputBinding | ErrorDetail {
  const node = has(graph, b.node_id) ? graph[b.node_id] : undefined;
  if (!node) return detail(`${path}.node_id`, `Node '${b.node_id}' is not in the workflow`);
  if (!has(node.inputs, b.input_name)) {
    const known = Object.keys(node.inputs).join(", ") || "none";
    const message = `Node '${b.node_id}' (${node.class_type}) has no input '${b.input_name}'; it has: ${known}`;
    return detail(`${path}.input_name`, message);
  }
  const current = node.inputs[b.input_name];
  if (isNodeLink(current)) {
    const message = `Input '${b.input_name}' of node '${b.node_id}' is a link to node '${current[0]}'; bind a value input`;
    return detail(`${path}.input_name`, message);
  }
  const binding: InputBinding = {
    input_id: b.input_id,
    type: b.type ?? FILE_INPUTS[`${node.class_type}.${b.input_name}`] ?? typeOfValue(current),
    binding: "node_input",
    node_id: b.node_id,
    input_name: b.input_name,
    class_type: node.class_type,
    required: b.required ?? false,
  };
  for (const key of ["description", "enum_values", "min", "max"] as const) {
    if (b[key] !== undefined) Object.assign(binding, { [key]: b[key] });
  }
  const fallback = b.default !== undefined ? b.default : current;
  if (fallback === undefined || fallback === null) return binding;
  const checked = coerceInput(binding, fallback);
  const what = b.default !== undefined ? "Default" : "The node's current value (the default)";
  if (!checked.ok) return detail(`${path}.default`, `${what} ${checked.message}`);
  binding.default = checked.value;
  return binding;
}

type Coerced = { ok: true; value: unknown } | { ok: false; message: string };

const INTEGER = /^[-+]?\d+$/;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const DATA_URI = /^data:[\w.+-]+\/[\w.+-]+(;[\w.+-]+=[\w.+-]+)*;base64,[A-Za-z0-9+/=\s]+$/;
/** A file id, or the name of a file already in ComfyUI's input folder: no path, no leading dot. */
const FILE_ID = /^[A-Za-z0-9_-][A-Za-z0-9._ -]{0,254}$/;

function isHttpUrl(text: string) {
  if (!/^https?:\/\//i.test(text)) return false;
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

const fail = (message: string): Coerced => ({ ok: false, message });

function inRange(binding: InputBinding, value: number): Coerced {
  if (binding.min !== undefined && value < binding.min) return fail(`must be at least ${binding.min}`);
  if (binding.max !== undefined && value > binding.max) return fail(`must be at most ${binding.max}`);
  return { ok: true, value };
}

/** Checks one value against its binding's type, turning the strings ComfyDeploy clients send into numbers. */
export function coerceInput(binding: InputBinding, value: unknown): Coerced {
  switch (binding.type) {
    case "string":
      return typeof value === "string" ? { ok: true, value } : fail("must be a string");
    case "integer": {
      const n = typeof value === "string" && INTEGER.test(value.trim()) ? Number(value) : value;
      return typeof n === "number" && Number.isInteger(n) ? inRange(binding, n) : fail("must be an integer");
    }
    case "number": {
      const n = typeof value === "string" && NUMBER.test(value.trim()) ? Number(value) : value;
      return typeof n === "number" && Number.isFinite(n) ? inRange(binding, n) : fail("must be a number");
    }
    case "boolean":
      if (typeof value === "boolean") return { ok: true, value };
      if (value === "true" || value === "false") return { ok: true, value: value === "true" };
      return fail("must be a boolean");
    case "enum":
      if (typeof value !== "string") return fail("must be a string");
      if (binding.enum_values && !binding.enum_values.includes(value)) {
        return fail(`must be one of: ${binding.enum_values.join(", ")}`);
      }
      return { ok: true, value };
    case "image":
    case "file":
      if (typeof value === "string" && (isHttpUrl(value) || DATA_URI.test(value) || FILE_ID.test(value))) {
        return { ok: true, value };
      }
      return fail("must be an http(s) URL, a base64 data URI or a file id");
    case "json":
      return { ok: true, value };
  }
}

/**
 * Checks a run's inputs against a deployment's input spec and fills in defaults. Throws the uniform
 * validation error with one detail per bad input (`inputs.<name>`): unknown, wrong type, or missing.
 */
export function validateRunInputs(inputSpec: InputBinding[], inputs: Record<string, unknown>) {
  const details: ErrorDetail[] = [];
  if (!isObject(inputs)) {
    throw new AppError("validation_error", "Invalid run inputs", [
      detail("inputs", "inputs must be an object of input name to value"),
    ]);
  }
  const byId = new Map(inputSpec.map((b) => [b.input_id, b]));
  for (const name of Object.keys(inputs)) {
    if (byId.has(name)) continue;
    const accepted = [...byId.keys()].join(", ") || "none";
    details.push(
      detail(
        `inputs.${name}`,
        `Unknown input '${name}'; this deployment accepts: ${accepted}`,
        "UNKNOWN_FIELD",
      ),
    );
  }
  const values: Record<string, unknown> = {};
  for (const [id, binding] of byId) {
    const given = has(inputs, id) ? inputs[id] : undefined;
    if (given === undefined || given === null) {
      if (binding.default !== undefined) put(values, id, binding.default);
      else if (binding.required)
        details.push(detail(`inputs.${id}`, `Input '${id}' is required`, "REQUIRED_FIELD"));
      continue;
    }
    const checked = coerceInput(binding, given);
    if (checked.ok) put(values, id, checked.value);
    else details.push(detail(`inputs.${id}`, `Input '${id}' ${checked.message}`));
  }
  if (details.length > 0) {
    throw new AppError("validation_error", "Invalid run inputs", details.slice(0, MAX_DETAILS));
  }
  return values;
}
