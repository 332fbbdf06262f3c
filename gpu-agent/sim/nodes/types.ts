import type { FileStore } from "../files";
import type { Raster } from "../image/raster";
import type { PromptGraph } from "../queue";

/** A node class as GET /object_info describes it. */
export interface ObjectInfo {
  input: {
    required?: Record<string, unknown[]>;
    optional?: Record<string, unknown[]>;
    hidden?: Record<string, string>;
  };
  input_order: Record<string, string[]>;
  output: string[];
  output_is_list: boolean[];
  output_name: string[];
  name: string;
  display_name: string | null;
  description: string;
  python_module: string;
  category: string;
  output_node: boolean;
  [extra: string]: unknown;
}

/** ComfyUI's IMAGE: a batch of pictures. */
export type Images = Raster[];

export interface Mask {
  width: number;
  height: number;
  values: Float32Array;
}

/** A stand-in latent: its size in latent pixels (an eighth of the picture) and what "made" it. */
export interface Latent {
  width: number;
  height: number;
  batch: number;
  seed: number;
}

/** What a node's function returns: one value per output socket, and for output nodes their `ui` dict. */
export interface NodeResult {
  outputs: unknown[];
  ui?: Record<string, unknown[]>;
}

export interface NodeContext {
  readonly nodeId: string;
  readonly prompt: PromptGraph;
  readonly extraData: Record<string, unknown>;
  readonly files: FileStore;
  /** Spends one unit of simulated work (the step time, and any hold or freeze a test set up). */
  work(): Promise<void>;
  /** One sampler step: spends a unit of work, stops here if interrupted, then reports progress and a preview. */
  step(value: number, max: number, preview?: Raster): Promise<void>;
  /** State kept per node instance across prompts, as ComfyUI keeps its node objects. */
  instance<T>(create: () => T): T;
}

export interface NodeDefinition {
  info(files: FileStore): ObjectInfo;
  /** Inputs the node validates itself (its VALIDATE_INPUTS), instead of the generic type and range checks. */
  selfValidated?: {
    inputs: string[];
    check(inputs: Record<string, unknown>, files: FileStore): true | string;
  };
  /** Mixed into the node's cache key, like IS_CHANGED: a new value means the cached result is stale. */
  isChanged?(inputs: Record<string, unknown>, files: FileStore): string;
  run(inputs: Record<string, unknown>, context: NodeContext): Promise<NodeResult>;
}

/** Builds an ObjectInfo with ComfyUI's defaults for the fields most nodes leave alone. */
export function describeNode(info: {
  name: string;
  display_name: string | null;
  category: string;
  python_module?: string;
  description?: string;
  required: Record<string, unknown[]>;
  optional?: Record<string, unknown[]>;
  hidden?: Record<string, string>;
  output: string[];
  output_name?: string[];
  output_node?: boolean;
  extra?: Record<string, unknown>;
}): ObjectInfo {
  const input: ObjectInfo["input"] = { required: info.required };
  const order: Record<string, string[]> = { required: Object.keys(info.required) };
  if (info.optional) {
    input.optional = info.optional;
    order.optional = Object.keys(info.optional);
  }
  if (info.hidden) {
    input.hidden = info.hidden;
    order.hidden = Object.keys(info.hidden);
  }
  return {
    input,
    input_order: order,
    output: info.output,
    output_is_list: info.output.map(() => false),
    output_name: info.output_name ?? info.output,
    name: info.name,
    display_name: info.display_name,
    description: info.description ?? "",
    python_module: info.python_module ?? "nodes",
    category: info.category,
    output_node: info.output_node ?? false,
    ...info.extra,
  };
}
