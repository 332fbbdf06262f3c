import type { ApiGraph } from "../../protocol/graph";
import { definitionInputs, type NodeDefinitions } from "./ui/definitions";

/** One model file: its ComfyUI model folder and its name there (a path below it when in a subfolder). */
export type ModelRef = { folder: string; name: string };

/** The model folder an input's value names a file of, and the values it offers that are not files. */
export type ModelInput = { folder: string; notFiles: ReadonlySet<string> };

/** class_type → input name → what it loads. */
export type ModelInputs = Map<string, Map<string, ModelInput>>;

/**
 * The core loaders' model inputs, for an instance that has not reported its definitions or whose folder
 * is empty (an empty COMBO list cannot say which folder it lists).
 */
const CORE_LOADERS: Record<string, Record<string, string>> = {
  CheckpointLoaderSimple: { ckpt_name: "checkpoints" },
  CheckpointLoader: { ckpt_name: "checkpoints", config_name: "configs" },
  ImageOnlyCheckpointLoader: { ckpt_name: "checkpoints" },
  unCLIPCheckpointLoader: { ckpt_name: "checkpoints" },
  LoraLoader: { lora_name: "loras" },
  LoraLoaderModelOnly: { lora_name: "loras" },
  VAELoader: { vae_name: "vae" },
  UNETLoader: { unet_name: "diffusion_models" },
  CLIPLoader: { clip_name: "text_encoders" },
  DualCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders" },
  TripleCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders", clip_name3: "text_encoders" },
  CLIPVisionLoader: { clip_name: "clip_vision" },
  ControlNetLoader: { control_net_name: "controlnet" },
  DiffControlNetLoader: { control_net_name: "controlnet" },
  StyleModelLoader: { style_model_name: "style_models" },
  UpscaleModelLoader: { model_name: "upscale_models" },
  GLIGENLoader: { gligen_name: "gligen" },
  HypernetworkLoader: { hypernetwork_name: "hypernetworks" },
  PhotoMakerLoader: { photomaker_model_name: "photomaker" },
};

/** Non-file values the core loaders offer (VAELoader's built-in decoders). */
const CORE_NOT_FILES = new Set(["pixel_space", "taesd", "taesdxl", "taesd3", "taef1"]);

const comboValues = (options: Record<string, unknown>) =>
  Array.isArray(options.options) ? options.options.filter((v): v is string => typeof v === "string") : [];

/**
 * The folder whose files a COMBO list offers: ComfyUI fills a loader's list from its folder, so the list
 * holds (nearly) every file of that folder. The folder most of whose files it lists wins; at least half,
 * so an inventory and definitions reported a moment apart still match.
 */
function folderListedBy(values: ReadonlySet<string>, folders: ReadonlyMap<string, ReadonlySet<string>>) {
  let best: { folder: string; shared: number } | undefined;
  for (const [folder, files] of folders) {
    let shared = 0;
    for (const file of files) if (values.has(file)) shared++;
    if (shared === 0 || shared * 2 < files.size) continue;
    if (!best || shared > best.shared) best = { folder, shared };
  }
  return best?.folder;
}

/**
 * Which inputs of which node classes name model files, for one ComfyUI instance: its node definitions
 * (when reported) against its model folders. A COMBO input listing a folder's files loads from it; the
 * core loaders fall back to their known folder. Values a list offers beside the folder's files are not
 * files (`pixel_space`).
 */
export function modelInputsOf(
  definitions: NodeDefinitions | undefined,
  folders: ReadonlyMap<string, ReadonlySet<string>>,
): ModelInputs {
  const found: ModelInputs = new Map();
  const add = (classType: string, input: string, model: ModelInput) => {
    const inputs = found.get(classType) ?? new Map<string, ModelInput>();
    inputs.set(input, model);
    found.set(classType, inputs);
  };
  for (const [classType, definition] of Object.entries(definitions ?? {})) {
    for (const input of definitionInputs(definition)) {
      if (input.type !== "COMBO") continue;
      const values = new Set(comboValues(input.options));
      const folder = folderListedBy(values, folders) ?? CORE_LOADERS[classType]?.[input.name];
      if (!folder) continue;
      const files = folders.get(folder) ?? new Set<string>();
      add(classType, input.name, { folder, notFiles: new Set([...values].filter((v) => !files.has(v))) });
    }
  }
  for (const [classType, inputs] of Object.entries(CORE_LOADERS)) {
    for (const [input, folder] of Object.entries(inputs)) {
      if (!found.get(classType)?.has(input)) add(classType, input, { folder, notFiles: CORE_NOT_FILES });
    }
  }
  return found;
}

/** The model inputs of several instances together; a value is a file unless some instance says not. */
export function mergeModelInputs(sets: readonly ModelInputs[]): ModelInputs {
  const merged: ModelInputs = new Map();
  for (const set of sets) {
    for (const [classType, inputs] of set) {
      const into = merged.get(classType) ?? new Map<string, ModelInput>();
      merged.set(classType, into);
      for (const [name, model] of inputs) {
        const known = into.get(name);
        into.set(
          name,
          known ? { folder: known.folder, notFiles: new Set([...known.notFiles, ...model.notFiles]) } : model,
        );
      }
    }
  }
  return merged;
}

/** A model file a graph names, and where. */
export type NamedModel = ModelRef & { nodeId: string; input: string };

/** Every model file the graph's nodes name (string values of model inputs), once per node input. */
export function modelsNamedBy(graph: ApiGraph, inputs: ModelInputs): NamedModel[] {
  const named: NamedModel[] = [];
  for (const [nodeId, node] of Object.entries(graph)) {
    const models = inputs.get(node.class_type);
    if (!models) continue;
    for (const [input, value] of Object.entries(node.inputs)) {
      const model = models.get(input);
      if (!model || typeof value !== "string" || value === "" || model.notFiles.has(value)) continue;
      named.push({ folder: model.folder, name: value, nodeId, input });
    }
  }
  return named;
}

/** The distinct files, sorted by folder then name: one canonical list per set of files. */
export function distinctModels(models: readonly ModelRef[]): ModelRef[] {
  const byKey = new Map(models.map((m) => [`${m.folder}\n${m.name}`, { folder: m.folder, name: m.name }]));
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, m]) => m);
}
