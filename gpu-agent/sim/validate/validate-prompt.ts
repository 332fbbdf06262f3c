import type { FileStore } from "../files";
import { describeValue } from "../nodes/describe-value";
import type { NodeDefinition } from "../nodes/types";
import { pyStrList } from "../py-json";
import {
  checkWidget,
  type InputSpec,
  inputError,
  type PromptError,
  promptError,
  typesMatch,
} from "./input-checks";

export interface NodeErrors {
  errors: PromptError[];
  dependent_outputs: string[];
  class_type: string;
}

export type Validation =
  | { ok: true; outputs: string[]; nodeErrors: Record<string, NodeErrors> }
  | { ok: false; error: PromptError; nodeErrors: Record<string, NodeErrors> };

type Catalog = ReadonlyMap<string, NodeDefinition>;
type Graph = Record<string, unknown>;

/**
 * ComfyUI's `validate_prompt`, with its error shapes. Widget values are converted in place (as ComfyUI
 * does, so the queued prompt carries the converted values). Where ComfyUI iterates a Python set (the
 * output nodes, a node's inputs) the order is arbitrary; reverse declaration order stands in for it, as
 * it reproduces the recorded traces.
 */
export function validatePrompt(prompt: Graph, catalog: Catalog, files: FileStore): Validation {
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    const classType = isRecord(node) ? node.class_type : undefined;
    if (classType === undefined) {
      return failed(invalidPrompt("Cannot execute because a node is missing the class_type property.", id));
    }
    const definition = catalog.get(String(classType));
    if (!definition)
      return failed(invalidPrompt(`Cannot execute because node ${String(classType)} does not exist.`, id));
    if (definition.info(files).output_node) outputs.unshift(id);
  }
  if (outputs.length === 0) return failed(promptError("prompt_no_outputs", "Prompt has no outputs", ""));

  const validator = new NodeValidator(prompt, catalog, files);
  const good: string[] = [];
  const nodeErrors: Record<string, NodeErrors> = {};
  for (const output of outputs) {
    if (validator.validateOutput(output)) {
      good.push(output);
      continue;
    }
    // As ComfyUI does, every failing node validated so far lists this output as dependent.
    for (const [id, result] of validator.validated) {
      if (result.ok || result.errors.length === 0) continue;
      nodeErrors[id] ??= {
        errors: result.errors,
        dependent_outputs: [],
        class_type: String(classOf(prompt[id])),
      };
      nodeErrors[id].dependent_outputs.push(output);
    }
  }
  if (good.length === 0) {
    return {
      ok: false,
      error: promptError("prompt_outputs_failed_validation", "Prompt outputs failed validation", ""),
      nodeErrors,
    };
  }
  return { ok: true, outputs: good, nodeErrors };
}

/** A Python exception inside validation; ComfyUI reports it against the output being validated. */
class ValidationException extends Error {
  constructor(
    message: string,
    readonly exceptionType: string,
  ) {
    super(message);
  }
}

interface NodeResultEntry {
  ok: boolean;
  errors: PromptError[];
}

class NodeValidator {
  readonly validated = new Map<string, NodeResultEntry>();
  private readonly visiting = new Set<string>();

  constructor(
    private readonly prompt: Graph,
    private readonly catalog: Catalog,
    private readonly files: FileStore,
  ) {}

  validateOutput(id: string): boolean {
    try {
      return this.validateNode(id);
    } catch (error) {
      if (!(error instanceof ValidationException)) throw error;
      const reason = promptError(
        "exception_during_validation",
        "Exception when validating node",
        error.message,
        {
          exception_type: error.exceptionType,
          traceback: [],
        },
      );
      this.validated.set(id, { ok: false, errors: [reason] });
      return false;
    }
  }

  private validateNode(id: string): boolean {
    const known = this.validated.get(id);
    if (known) return known.ok;
    if (this.visiting.has(id))
      throw new ValidationException("maximum recursion depth exceeded", "RecursionError");
    this.visiting.add(id);
    const node = this.prompt[id] as Record<string, unknown>;
    if (!isRecord(node.inputs)) throw new ValidationException("'inputs'", "KeyError");
    const inputs = node.inputs;
    const definition = this.catalog.get(String(node.class_type)) as NodeDefinition;
    const errors: PromptError[] = [];
    let upstreamOk = true;
    for (const spec of inputSpecs(definition, this.files).reverse()) {
      const { name, type, options, required } = spec;
      if (!(name in inputs)) {
        if (required) errors.push(inputError("required_input_missing", "Required input is missing", name));
        continue;
      }
      const value = inputs[name];
      if (Array.isArray(value)) {
        const linked = this.checkLink(name, value, type, [type, options]);
        if (linked === false) upstreamOk = false;
        else if (linked !== true) errors.push(linked);
        continue;
      }
      const error = checkWidget(inputs, spec, definition.selfValidated?.inputs.includes(name) ?? false);
      if (error) errors.push(error);
    }
    const custom = definition.selfValidated;
    const verdict = custom ? custom.check(inputs, this.files) : true;
    if (custom && verdict !== true) {
      const name = custom.inputs[0] ?? "";
      errors.push(
        inputError(
          "custom_validation_failed",
          "Custom validation failed for node",
          name,
          {},
          `${name} - ${verdict}`,
        ),
      );
    }
    this.visiting.delete(id);
    const ok = upstreamOk && errors.length === 0;
    this.validated.set(id, { ok, errors });
    return ok;
  }

  /** True when the link and its source are valid, false when the source is not, or the link's own error. */
  private checkLink(name: string, link: unknown[], type: unknown, config: unknown[]): PromptError | boolean {
    if (link.length !== 2) {
      return inputError(
        "bad_linked_input",
        "Bad linked input, must be a length-2 list of [node_id, slot_index]",
        name,
        { input_config: config, received_value: link },
      );
    }
    const [fromId, slot] = link;
    const from = typeof fromId === "string" ? this.prompt[fromId] : undefined;
    if (!isRecord(from)) throw new ValidationException(pyRepr(fromId), "KeyError");
    const received = this.catalog.get(String(from.class_type))?.info(this.files).output[Number(slot)];
    if (received === undefined) throw new ValidationException("tuple index out of range", "IndexError");
    if (!typesMatch(received, type)) {
      const expected = Array.isArray(type) ? pyStrList(type) : String(type);
      return inputError(
        "return_type_mismatch",
        "Return type mismatch between linked nodes",
        name,
        { input_config: config, received_type: received, linked_node: link },
        `${name}, received_type(${received}) mismatch input_type(${expected})`,
      );
    }
    return this.validateNode(fromId as string);
  }
}

function inputSpecs(definition: NodeDefinition, files: FileStore): InputSpec[] {
  const { required = {}, optional = {} } = definition.info(files).input;
  const specs = (entries: Record<string, unknown[]>, isRequired: boolean) =>
    Object.entries(entries).map(([name, [type, options]]) => ({
      name,
      type,
      options: isRecord(options) ? options : {},
      required: isRequired,
    }));
  return [...specs(required, true), ...specs(optional, false)];
}

function invalidPrompt(message: string, id: string): PromptError {
  return promptError("invalid_prompt", message, `Node ID '#${id}'`);
}

function failed(error: PromptError): Validation {
  return { ok: false, error, nodeErrors: {} };
}

function classOf(node: unknown): unknown {
  return isRecord(node) ? node.class_type : undefined;
}

function pyRepr(value: unknown): string {
  return typeof value === "string" ? `'${value}'` : describeValue(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
