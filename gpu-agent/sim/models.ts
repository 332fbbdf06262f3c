import { COMFY_ROOT, type FileStore } from "./files";

/** ComfyUI v0.3.64's model folders, in the order GET /models lists them (models_and_free.json). */
export const MODEL_FOLDERS = [
  "checkpoints",
  "configs",
  "loras",
  "vae",
  "text_encoders",
  "diffusion_models",
  "clip_vision",
  "style_models",
  "embeddings",
  "diffusers",
  "vae_approx",
  "controlnet",
  "gligen",
  "upscale_models",
  "custom_nodes",
  "hypernetworks",
  "photomaker",
  "classifiers",
  "model_patches",
  "audio_encoders",
] as const;

/** `folder_paths.supported_pt_extensions`: what ComfyUI lists in a weights folder. */
const WEIGHT_EXTENSIONS = [".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"];

/** The files a simulator has when it is given none: what the sampler pipeline's tests name. */
export const DEFAULT_MODELS: Readonly<Record<string, readonly string[]>> = {
  checkpoints: ["sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly.safetensors"],
  loras: ["detail_tweaker_lora.safetensors"],
  vae: ["sdxl_vae.safetensors"],
};

export function isModelFolder(name: string): boolean {
  return (MODEL_FOLDERS as readonly string[]).includes(name);
}

function folderPath(folder: string): string {
  return `${COMFY_ROOT}/models/${folder}`;
}

/** GET /models/{folder}: the weight files directly in that folder, sorted (`configs` lists its YAML). */
export function modelFiles(files: FileStore, folder: string): string[] {
  const extensions = folder === "configs" ? [".yaml"] : WEIGHT_EXTENSIONS;
  return files.list(folderPath(folder)).filter((name) => extensions.some((ext) => name.endsWith(ext)));
}

/**
 * Puts a weight-free placeholder in place of each named model that is not there yet. Each placeholder's
 * bytes name its file, so two different models never share a hash.
 */
export function placeModels(files: FileStore, models: Readonly<Record<string, readonly string[]>>): void {
  for (const [folder, names] of Object.entries(models)) {
    if (!isModelFolder(folder)) throw new Error(`"${folder}" is not a ComfyUI model folder`);
    for (const name of names) {
      if (name.includes("/")) throw new Error(`"${name}" must be a bare file name`);
      const path = `${folderPath(folder)}/${name}`;
      if (files.read(path)) continue;
      files.write(path, Buffer.from(`comfy-edge simulator: weight-free ${folder}/${name}\n`));
    }
  }
}
