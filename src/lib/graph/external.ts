import { type ApiNode, type InputBinding, type InputType, isNodeLink } from "../../protocol/graph";
import { has, isObject } from "./util";

export const EXTERNAL_PREFIX = "ComfyUIDeployExternal";

export const isExternalInputNode = (node: ApiNode) => node.class_type.startsWith(EXTERNAL_PREFIX);

/** The run-input type of each ComfyDeploy external node, and the inputs that may hold its default. */
type ExternalKind = { type: InputType; valueInputs: string[] };

const scalar = (type: InputType): ExternalKind => ({ type, valueInputs: ["default_value"] });
const media = (type: InputType): ExternalKind => ({
  type,
  valueInputs: ["default_value_url", "default_value"],
});

const EXTERNAL_KINDS: Record<string, ExternalKind> = {
  Text: scalar("string"),
  TextAny: scalar("string"),
  TextSingleLine: scalar("string"),
  Color: scalar("string"),
  Number: scalar("number"),
  NumberSlider: scalar("number"),
  NumberInt: scalar("integer"),
  NumberIntSlider: scalar("integer"),
  Seed: scalar("integer"),
  Boolean: scalar("boolean"),
  Image: media("image"),
  ImageAlpha: media("image"),
  ImageBatch: media("image"),
  Video: media("file"),
  Audio: media("file"),
  Lora: { type: "string", valueInputs: ["default_lora_name", "default_value", "lora_url"] },
  Checkpoint: { type: "string", valueInputs: ["default_value", "ckpt_name", "default_ckpt_name"] },
  Enum: scalar("enum"),
};

/** The type a literal value suggests, for external nodes we do not know and for explicit bindings. */
export function typeOfValue(value: unknown): InputType {
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (typeof value === "string" || value === undefined || value === null) return "string";
  return "json";
}

const literal = (value: unknown) => value !== undefined && value !== null && !isNodeLink(value);

const numberInput = (node: ApiNode, name: string) => {
  const value = node.inputs[name];
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
};

function enumValues(raw: unknown): string[] | undefined {
  let list = raw;
  if (typeof raw === "string") {
    try {
      list = JSON.parse(raw);
    } catch {
      list = raw.split(/[\n,]/).map((s) => s.trim());
    }
  }
  if (!Array.isArray(list)) return undefined;
  const values = list.filter((v): v is string => typeof v === "string" && v !== "");
  return values.length > 0 ? values : undefined;
}

function describe(node: ApiNode): string | undefined {
  for (const key of ["description", "display_name"]) {
    const value = node.inputs[key];
    if (typeof value === "string" && value.trim() !== "") return value;
  }
  return isObject(node._meta) && typeof node._meta.title === "string" ? node._meta.title : undefined;
}

/** The spec entry of one external-input node of a graph that `validateGraph` accepted. */
export function externalBinding(nodeId: string, node: ApiNode): InputBinding {
  const suffix = node.class_type.slice(EXTERNAL_PREFIX.length);
  const kind = EXTERNAL_KINDS[suffix] ?? {
    type: typeOfValue(node.inputs.default_value),
    valueInputs: ["default_value"],
  };
  const inputName = kind.valueInputs.find((name) => literal(node.inputs[name])) ?? kind.valueInputs[0]!;
  const raw = node.inputs[inputName];
  const media = kind.type === "image" || kind.type === "file";
  const hasDefault = literal(raw) && !(media && raw === "");
  const linkedDefault = kind.valueInputs.some((name) => isNodeLink(node.inputs[name]));
  const binding: InputBinding = {
    input_id: node.inputs.input_id as string,
    type: kind.type,
    binding: "external_node",
    node_id: nodeId,
    input_name: inputName,
    class_type: node.class_type,
    required: !hasDefault && !linkedDefault,
  };
  if (hasDefault) binding.default = raw;
  const description = describe(node);
  if (description !== undefined) binding.description = description;
  if (kind.type === "enum") {
    const values = enumValues(node.inputs.options);
    if (values) binding.enum_values = values;
  }
  const min = numberInput(node, "min_value");
  const max = numberInput(node, "max_value");
  if (min !== undefined) binding.min = min;
  if (max !== undefined) binding.max = max;
  return binding;
}

/** ComfyDeploy output nodes carry an `output_id`; they are what `output_types` lists. */
export function outputSpec(graph: Record<string, ApiNode>) {
  return Object.values(graph).flatMap((node) =>
    has(node.inputs, "output_id") && typeof node.inputs.output_id === "string"
      ? [{ class_type: node.class_type, output_id: node.inputs.output_id }]
      : [],
  );
}
