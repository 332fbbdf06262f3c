import { describeValue } from "../nodes/describe-value";
import { pyFloat, pyStrList } from "../py-json";
import { convertWidget } from "./widget-values";

export interface PromptError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

/** One input of a node class, from its object_info: `[type or combo list, options]`. */
export interface InputSpec {
  name: string;
  type: unknown;
  options: Record<string, unknown>;
  required: boolean;
}

export function promptError(
  type: string,
  message: string,
  details: string,
  extra: Record<string, unknown> = {},
): PromptError {
  return { type, message, details, extra_info: extra };
}

export function inputError(
  type: string,
  message: string,
  name: string,
  extra: Record<string, unknown> = {},
  details = name,
): PromptError {
  return promptError(type, message, details, { input_name: name, ...extra });
}

/**
 * ComfyUI's checks of a widget value: the Python conversion of its type (written back into `inputs`,
 * as ComfyUI does), then unless the node validates it itself, min, max and the combo list.
 */
export function checkWidget(
  inputs: Record<string, unknown>,
  spec: InputSpec,
  selfValidated: boolean,
): PromptError | undefined {
  const { name, type, options } = spec;
  const config = [type, options];
  let value = inputs[name];
  if (typeof value === "object" && value !== null && "__value__" in value) value = value.__value__;
  if (typeof type === "string") {
    try {
      value = convertWidget(type, value);
    } catch (error) {
      const message = (error as Error).message;
      return inputError(
        "invalid_input_type",
        `Failed to convert an input value to a ${type} value`,
        name,
        { input_config: config, received_value: value, exception_message: message },
        `${name}, ${describeValue(value)}, ${message}`,
      );
    }
  }
  inputs[name] = value;
  if (selfValidated) return undefined;
  const show = (n: unknown) => (type === "FLOAT" && typeof n === "number" ? pyFloat(n) : String(n));
  const extra = { input_config: config, received_value: value };
  if (typeof options.min === "number" && (value as number) < options.min) {
    return inputError(
      "value_smaller_than_min",
      `Value ${show(value)} smaller than min of ${show(options.min)}`,
      name,
      extra,
    );
  }
  if (typeof options.max === "number" && (value as number) > options.max) {
    return inputError(
      "value_bigger_than_max",
      `Value ${show(value)} bigger than max of ${show(options.max)}`,
      name,
      extra,
    );
  }
  const choices = Array.isArray(type) ? type : type === "COMBO" ? options.options : undefined;
  if (Array.isArray(choices) && !choices.includes(value)) {
    const long = choices.length > 20;
    return inputError(
      "value_not_in_list",
      "Value not in list",
      name,
      { input_config: long ? null : config, received_value: value },
      `${name}: '${describeValue(value)}' not in ${long ? `(list of length ${choices.length})` : pyStrList(choices)}`,
    );
  }
  return undefined;
}

/** ComfyUI's `validate_node_input`: equal types, a `*` wildcard, or overlapping comma-separated unions. */
export function typesMatch(received: unknown, expected: unknown): boolean {
  if (received === expected) return true;
  if (typeof received !== "string" || typeof expected !== "string") return false;
  const have = new Set(received.split(",").map((t) => t.trim()));
  const want = new Set(expected.split(",").map((t) => t.trim()));
  if (have.has("*") || want.has("*")) return true;
  if (have.size === 1 && want.size === 1) return false;
  return [...have].some((t) => want.has(t));
}
