import { z } from "zod";

/** A link to another node's output: `[node_id, output_index]`. */
export const NodeLink = z.tuple([z.string(), z.number().int().nonnegative()]);

/** ComfyUI's API-format graph: `{ "<node id>": { class_type, inputs, _meta? } }`. */
export const ApiNode = z.object({
  class_type: z.string().min(1),
  inputs: z.record(z.string(), z.unknown()).default({}),
  _meta: z.object({ title: z.string().optional() }).loose().optional(),
});

export const ApiGraph = z.record(z.string(), ApiNode);

export type ApiNode = z.infer<typeof ApiNode>;
export type ApiGraph = z.infer<typeof ApiGraph>;

export const isNodeLink = (value: unknown): value is [string, number] => NodeLink.safeParse(value).success;

/** The value types a run input may have. */
export const InputType = z.enum(["string", "integer", "number", "boolean", "image", "file", "enum", "json"]);
export type InputType = z.infer<typeof InputType>;

/**
 * Where one named run input lands in the graph.
 * - `node_input`: the value replaces `graph[node_id].inputs[input_name]`; image and file values are first
 *   fetched and uploaded to ComfyUI, and the uploaded name is used.
 * - `external_node`: `node_id` is a ComfyDeploy external-input node (`ComfyUIDeployExternal…`). It is
 *   lowered so the graph runs on a stock ComfyUI: scalar values are written into every input linked to it
 *   and the node is removed; image values turn it into a `LoadImage` of the uploaded file.
 */
export const InputBinding = z.object({
  input_id: z.string().min(1).max(128),
  type: InputType,
  binding: z.enum(["node_input", "external_node"]),
  node_id: z.string(),
  input_name: z.string(),
  class_type: z.string(),
  required: z.boolean(),
  default: z.unknown().optional(),
  description: z.string().optional(),
  enum_values: z.array(z.string()).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
});
export type InputBinding = z.infer<typeof InputBinding>;
