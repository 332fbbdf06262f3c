import { haze, type Raster, resize, seededGradient } from "../image/raster";
import { modelFiles } from "../models";
import { describeNode, type Images, type Latent, type NodeDefinition } from "./types";

/**
 * Stand-ins for a text-to-image pipeline: they check and pass along their inputs like the real nodes but
 * load no weights. KSampler reports one progress step (with a preview) per step, as a real sampler does.
 */

const SAMPLERS = [
  "euler",
  "euler_ancestral",
  "heun",
  "dpm_2",
  "lms",
  "dpmpp_2m",
  "dpmpp_sde",
  "ddim",
  "uni_pc",
];
const SCHEDULERS = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal"];

/** The longest side of a live preview, as ComfyUI caps previews. */
const MAX_PREVIEW = 512;

// The loaders list the files in their model folder, so a missing file fails validation as in ComfyUI.
export const CheckpointLoaderSimple: NodeDefinition = {
  info: (files) =>
    describeNode({
      name: "CheckpointLoaderSimple",
      display_name: "Load Checkpoint",
      description: "Loads a diffusion model checkpoint, diffusion models are used to denoise latents.",
      category: "loaders",
      required: {
        ckpt_name: [
          modelFiles(files, "checkpoints"),
          { tooltip: "The name of the checkpoint (model) to load." },
        ],
      },
      output: ["MODEL", "CLIP", "VAE"],
      extra: {
        output_tooltips: [
          "The model used for denoising latents.",
          "The CLIP model used for encoding text prompts.",
          "The VAE model used for encoding and decoding images to and from latent space.",
        ],
      },
    }),
  run: async (inputs, context) => {
    await context.work();
    const name = String(inputs.ckpt_name);
    return { outputs: [{ model: name }, { clip: name }, { vae: name }] };
  },
};

export const LoraLoader: NodeDefinition = {
  info: (files) =>
    describeNode({
      name: "LoraLoader",
      display_name: "Load LoRA",
      description:
        "LoRAs are used to modify diffusion and CLIP models, altering the way in which latents are denoised such as applying styles. Multiple LoRA nodes can be linked together.",
      category: "loaders",
      required: {
        model: ["MODEL", { tooltip: "The diffusion model the LoRA will be applied to." }],
        clip: ["CLIP", { tooltip: "The CLIP model the LoRA will be applied to." }],
        lora_name: [modelFiles(files, "loras"), { tooltip: "The name of the LoRA." }],
        strength_model: [
          "FLOAT",
          {
            default: 1.0,
            min: -100.0,
            max: 100.0,
            step: 0.01,
            tooltip: "How strongly to modify the diffusion model. This value can be negative.",
          },
        ],
        strength_clip: [
          "FLOAT",
          {
            default: 1.0,
            min: -100.0,
            max: 100.0,
            step: 0.01,
            tooltip: "How strongly to modify the CLIP model. This value can be negative.",
          },
        ],
      },
      output: ["MODEL", "CLIP"],
      extra: { output_tooltips: ["The modified diffusion model.", "The modified CLIP model."] },
    }),
  run: async (inputs, context) => {
    await context.work();
    return { outputs: [inputs.model, inputs.clip] };
  },
};

export const VAELoader: NodeDefinition = {
  // ComfyUI offers "pixel_space" after the files in models/vae.
  info: (files) =>
    describeNode({
      name: "VAELoader",
      display_name: "Load VAE",
      category: "loaders",
      required: { vae_name: [[...modelFiles(files, "vae"), "pixel_space"]] },
      output: ["VAE"],
    }),
  run: async (inputs, context) => {
    await context.work();
    return { outputs: [{ vae: String(inputs.vae_name) }] };
  },
};

export const CLIPTextEncode: NodeDefinition = {
  info: () =>
    describeNode({
      name: "CLIPTextEncode",
      display_name: "CLIP Text Encode (Prompt)",
      category: "conditioning",
      required: {
        text: ["STRING", { multiline: true, dynamicPrompts: true }],
        clip: ["CLIP", {}],
      },
      output: ["CONDITIONING"],
    }),
  run: async (inputs, context) => {
    await context.work();
    return { outputs: [{ text: String(inputs.text) }] };
  },
};

export const EmptyLatentImage: NodeDefinition = {
  info: () =>
    describeNode({
      name: "EmptyLatentImage",
      display_name: "Empty Latent Image",
      category: "latent",
      required: {
        width: ["INT", { default: 512, min: 16, max: 16384, step: 8 }],
        height: ["INT", { default: 512, min: 16, max: 16384, step: 8 }],
        batch_size: ["INT", { default: 1, min: 1, max: 4096 }],
      },
      output: ["LATENT"],
    }),
  run: async (inputs, context) => {
    await context.work();
    const latent: Latent = {
      width: Math.floor((inputs.width as number) / 8),
      height: Math.floor((inputs.height as number) / 8),
      batch: inputs.batch_size as number,
      seed: 0,
    };
    return { outputs: [latent] };
  },
};

export const KSampler: NodeDefinition = {
  info: () =>
    describeNode({
      name: "KSampler",
      display_name: "KSampler",
      category: "sampling",
      required: {
        model: ["MODEL", {}],
        seed: ["INT", { default: 0, min: 0, max: 2 ** 64 - 1, control_after_generate: true }],
        steps: ["INT", { default: 20, min: 1, max: 10000 }],
        cfg: ["FLOAT", { default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01 }],
        sampler_name: [SAMPLERS, {}],
        scheduler: [SCHEDULERS, {}],
        positive: ["CONDITIONING", {}],
        negative: ["CONDITIONING", {}],
        latent_image: ["LATENT", {}],
        denoise: ["FLOAT", { default: 1.0, min: 0.0, max: 1.0, step: 0.01 }],
      },
      output: ["LATENT"],
    }),
  run: async (inputs, context) => {
    const latent = inputs.latent_image as Latent;
    const seed = inputs.seed as number;
    const steps = inputs.steps as number;
    const target = seededGradient(Math.max(1, latent.width), Math.max(1, latent.height), seed);
    for (let step = 1; step <= steps; step++) await context.step(step, steps, haze(target, 1 - step / steps));
    return { outputs: [{ ...latent, seed }] };
  },
};

export const VAEDecode: NodeDefinition = {
  info: () =>
    describeNode({
      name: "VAEDecode",
      display_name: "VAE Decode",
      category: "latent",
      required: { samples: ["LATENT"], vae: ["VAE"] },
      output: ["IMAGE"],
    }),
  run: async (inputs, context) => {
    await context.work();
    const latent = inputs.samples as Latent;
    const images: Images = Array.from({ length: latent.batch }, (_, i) =>
      seededGradient(latent.width * 8, latent.height * 8, latent.seed + i),
    );
    return { outputs: [images] };
  },
};

/** The test node from the traces: `steps` progress updates, each with a JPEG preview of the picture. */
export const CRTestProgressPreview: NodeDefinition = {
  info: () =>
    describeNode({
      name: "CRTestProgressPreview",
      display_name: "comfy-real test: progress + preview",
      category: "_comfy_real_test",
      python_module: "custom_nodes.comfy_real_test_nodes",
      required: {
        image: ["IMAGE"],
        steps: ["INT", { default: 4, min: 1, max: 1000 }],
        delay: ["FLOAT", { default: 0.25, min: 0.0, max: 10.0, step: 0.05 }],
      },
      output: ["IMAGE"],
    }),
  // `delay` is ignored: the simulator's step time paces the steps.
  run: async (inputs, context) => {
    const images = inputs.image as Images;
    const steps = inputs.steps as number;
    const preview = images[0] && previewSized(images[0]);
    for (let step = 1; step <= steps; step++) await context.step(step, steps, preview);
    return { outputs: [images] };
  },
};

function previewSized(image: Raster): Raster {
  const scale = Math.min(1, MAX_PREVIEW / Math.max(image.width, image.height));
  if (scale === 1) return image;
  return resize(image, Math.round(image.width * scale), Math.round(image.height * scale), "bilinear");
}

export const PrimitiveInt: NodeDefinition = {
  info: () =>
    describeNode({
      name: "PrimitiveInt",
      display_name: "Int",
      category: "utils/primitive",
      python_module: "comfy_extras.nodes_primitive",
      required: { value: ["INT", { min: -(2 ** 63 - 1), max: 2 ** 63 - 1, control_after_generate: true }] },
      output: ["INT"],
    }),
  run: async (inputs, context) => {
    await context.work();
    return { outputs: [inputs.value] };
  },
};

export const PrimitiveString: NodeDefinition = {
  info: () =>
    describeNode({
      name: "PrimitiveString",
      display_name: "String",
      category: "utils/primitive",
      python_module: "comfy_extras.nodes_primitive",
      required: { value: ["STRING", {}] },
      output: ["STRING"],
    }),
  run: async (inputs, context) => {
    await context.work();
    return { outputs: [inputs.value] };
  },
};
