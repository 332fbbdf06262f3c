import * as z from "zod/mini";

/** A link to another node's output: `[node_id, output_index]`. */
export const NodeLink = z.tuple([z.string(), z.int().check(z.gte(0))]);

/** ComfyUI's API-format graph: `{ "<node id>": { class_type, inputs, _meta? } }`. */
export const ApiNode = z.object({
  class_type: z.string().check(z.minLength(1)),
  inputs: z._default(z.record(z.string(), z.unknown()), {}),
  _meta: z.optional(z.looseObject({ title: z.optional(z.string()) })),
});

export const ApiGraph = z.record(z.string(), ApiNode);

export type ApiNode = z.infer<typeof ApiNode>;
export type ApiGraph = z.infer<typeof ApiGraph>;

export const isNodeLink = (value: unknown): value is [string, number] => NodeLink.safeParse(value).success;

/** The value types a run input may have. */
export const INPUT_TYPES = [
  "string",
  "integer",
  "number",
  "boolean",
  "image",
  "file",
  "enum",
  "json",
] as const;
export const InputType = z.enum(INPUT_TYPES);
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
  input_id: z.string().check(z.minLength(1), z.maxLength(128)),
  type: InputType,
  binding: z.enum(["node_input", "external_node"]),
  node_id: z.string(),
  input_name: z.string(),
  class_type: z.string(),
  required: z.boolean(),
  default: z.optional(z.unknown()),
  description: z.optional(z.string()),
  enum_values: z.optional(z.array(z.string())),
  min: z.optional(z.number()),
  max: z.optional(z.number()),
});
export type InputBinding = z.infer<typeof InputBinding>;
