import { isObject, type JsonObject } from "../util";

/** One node class as ComfyUI's `GET /object_info` describes it (the parts conversion reads). */
export type NodeDefinition = {
  input?: { required?: JsonObject; optional?: JsonObject; hidden?: JsonObject };
  input_order?: { required?: string[]; optional?: string[] };
  display_name?: string | null;
  output?: unknown[];
};

/** `GET /object_info`: node class name → definition. */
export type NodeDefinitions = Record<string, NodeDefinition>;

/** One input as the definition declares it: `[type or combo list, options]`. */
export type InputDefinition = { name: string; type: string; options: JsonObject };

const WIDGET_TYPES = new Set(["INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"]);

function inputDefinition(name: string, raw: unknown): InputDefinition | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  const type = Array.isArray(raw[0]) ? "COMBO" : typeof raw[0] === "string" ? raw[0] : undefined;
  if (type === undefined) return undefined;
  const options = isObject(raw[1]) ? raw[1] : {};
  if (Array.isArray(raw[0]) && options.options === undefined)
    return { name, type, options: { ...options, options: raw[0] } };
  return { name, type, options };
}

/** Required then optional inputs, in the order the definition gives (`input_order` when present). */
export function definitionInputs(definition: NodeDefinition): InputDefinition[] {
  const sections = ["required", "optional"] as const;
  return sections.flatMap((section) => {
    const declared = definition.input?.[section] ?? {};
    const order = definition.input_order?.[section] ?? Object.keys(declared);
    return order.flatMap((name) => inputDefinition(name, declared[name]) ?? []);
  });
}

/** An input the editor draws as a widget (a value), not only as a socket (a link). */
export const isWidgetInput = (input: InputDefinition) =>
  WIDGET_TYPES.has(input.type) && input.options.forceInput !== true;

/** The editor adds a value-control widget ("fixed", "randomize"…) after these; its value is never sent. */
export const hasControlWidget = (input: InputDefinition) => input.options.control_after_generate === true;

/** The editor adds an upload button widget after these file pickers; its value is never sent. */
export const hasUploadWidget = (input: InputDefinition) =>
  ["image_upload", "video_upload", "file_upload"].some((flag) => input.options[flag] === true);

/** A widget's value when the document carries none: the definition's default, else a combo's first option. */
export function defaultValue(input: InputDefinition): unknown {
  if (input.options.default !== undefined) return input.options.default;
  const options = input.options.options;
  if (input.type === "COMBO" && Array.isArray(options)) return options[0];
  return undefined;
}
